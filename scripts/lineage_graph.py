#!/usr/bin/env python
"""``make lineage-graph``: one night's lineage graph from captured OpenLineage events.

Reads the events a run wrote with the OpenLineage file transport (``make demo LINEAGE=1`` writes
``.airflow/demo/lineage.jsonl``), one JSON event per line, and draws datasets (boxes) and tasks (ellipses)
from the COMPLETE events' inputs and outputs. Writes a Graphviz DOT file next to the events, and an SVG
when Graphviz's ``dot`` is installed (without it: says so, and how to render the DOT file elsewhere).

  lineage_graph.py [EVENTS] [--out FILE_WITHOUT_SUFFIX]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVENTS = ROOT / ".airflow" / "demo" / "lineage.jsonl"


def read_events(path: Path) -> list[dict]:
    events = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            events.append(json.loads(line))
    return events


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rows_written(dataset: dict) -> int | None:
    return (dataset.get("outputFacets") or {}).get("outputStatistics", {}).get("rowCount")


def dataset_label(dataset: dict, rows: int | None) -> str:
    return f"{dataset['namespace']}\\n{dataset['name']}" + ("" if rows is None else f"\\n{rows:,} rows")


def to_dot(events: list[dict]) -> str:
    """DOT text of the COMPLETE task events that name datasets (a mapped task's instances are one job)."""
    datasets: dict[str, dict] = {}
    # A mapped task's instances each write their share of a dataset: its rows are the sum over the task runs
    # (an event delivered twice counts once).
    written_by_run: dict[tuple[str, str], int] = {}
    jobs: set[str] = set()
    edges: set[tuple[str, str]] = set()
    for event in events:
        if event.get("eventType") != "COMPLETE" or not (event.get("inputs") or event.get("outputs")):
            continue
        job = event["job"]["name"]
        jobs.add(job)
        for side, items in (("in", event.get("inputs") or []), ("out", event.get("outputs") or [])):
            for dataset in items:
                key = f"{dataset['namespace']}/{dataset['name']}"
                datasets.setdefault(key, dataset)
                if side == "out" and (written := rows_written(dataset)) is not None:
                    written_by_run[key, (event.get("run") or {}).get("runId", "")] = written
                edges.add((key, job) if side == "in" else (job, key))
    rows: dict[str, int] = {}
    for (key, _), written in written_by_run.items():
        rows[key] = rows.get(key, 0) + written
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    lines += [f"  {quote(key)} [shape=box, style=rounded, label={quote(dataset_label(dataset, rows.get(key)))}];"
              for key, dataset in sorted(datasets.items())]
    lines += [f"  {quote(job)} [shape=ellipse, style=filled, fillcolor=\"#e0f0d8\"];" for job in sorted(jobs)]
    lines += [f"  {quote(a)} -> {quote(b)};" for a, b in sorted(edges)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", nargs="?", type=Path, default=DEFAULT_EVENTS)
    parser.add_argument("--out", type=Path, default=None, help="output path without suffix (default: next to EVENTS)")
    args = parser.parse_args(argv)
    if not args.events.is_file():
        print(f"lineage-graph: no events at {args.events}: run `make demo LINEAGE=1` first", file=sys.stderr)
        return 1
    out = args.out or args.events.with_name("lineage")
    dot_file = out.with_suffix(".dot")
    dot_file.write_text(to_dot(read_events(args.events)))
    print(f"lineage-graph: wrote {dot_file}")
    dot = shutil.which("dot")
    if dot is None:
        print("lineage-graph: Graphviz `dot` is not installed, so no picture was drawn; install it "
              f"(apt-get install graphviz) or render elsewhere: dot -Tsvg {dot_file.name} -o {out.name}.svg")
        return 0
    subprocess.run([dot, "-Tsvg", str(dot_file), "-o", str(out.with_suffix(".svg"))], check=True)
    print(f"lineage-graph: drew {out.with_suffix('.svg')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
