#!/usr/bin/env python
"""``make bench-xml-mapping``: applications per second end to end (staged rows in PostgreSQL -> every target
table), for one worker and for two, against the mapper alone.

  1. a throwaway PostgreSQL database whose ``dbo.app_xml_staging`` holds --apps applications (default 3,000)
     cycled from the shared Provenir corpus, reduced to CustData as ``appxml_staging`` stages them, each with
     a unique app_id and renumbered con_ids; mapped with the original contracts. Without the shared corpus,
     generated documents and the example contracts stand in (and the figures are not comparable);
  2. the mapper alone: validate, parse and map the same staged documents in memory on one core;
  3. one worker (the CLI, ``--mod 1``), then two workers side by side (``--mod 2``, two processes), each run
     into a freshly created target schema; apps/s from the workers' own metrics (first read to last commit),
     peak RSS per worker.

Rounds repeat (--repeat); the verdict uses the medians over the rounds, the best ratio is printed next to it
(on a shared machine other jobs only ever slow a run down, and the two-worker run most).
Goals (issue 10): one worker >= 460 apps/s, two workers >= 1.5 x one. The database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from devtools.localdb import create_database, drop_database  # noqa: E402
from devtools.xml_mapping.generator import corpus_cycle, staged_corpus  # noqa: E402
from devtools.xml_mapping.seed import stage_documents  # noqa: E402
from pipelines.common.database.engines import engine_from_url  # noqa: E402
from pipelines.common.paths import config_path  # noqa: E402
from pipelines.xml_mapping.config import load_contracts  # noqa: E402
from pipelines.xml_mapping.documents import Failure, Router  # noqa: E402
from pipelines.xml_mapping.target_tables import build_schema, ensure_schema  # noqa: E402

SHARED = ROOT / ".." / "shared" / "corpus"
GOAL_ONE, GOAL_SCALING = 460.0, 1.5


def contract_paths() -> tuple[list[Path], bool]:
    real = [SHARED / "xml_mapping" / f"mapping_contract_{p}.json" for p in ("cc", "rl")]
    if all(path.is_file() for path in real) and (SHARED / "provenir").is_dir():
        return real, True
    return [config_path("xml_mapping/example_cc.json"), config_path("xml_mapping/example_rl.json")], False


def stage(url: str, apps: int, real: bool) -> None:
    engine = engine_from_url(url)
    try:
        if real:
            documents = corpus_cycle(SHARED / "provenir", apps, first_app_id=1_000_000)
        else:
            documents = ((app_id, body) for app_id, _, body in staged_corpus(apps, first_app_id=1_000_000))
        stage_documents(engine, documents)
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE dbo.app_xml_staging")
    finally:
        engine.dispose()


def mapper_alone(url: str, contracts: list[Path]) -> float:
    """apps/s of validate + parse + map over the staged documents, in memory, one thread."""
    engine = engine_from_url(url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql('SELECT app_id, "app_XML" FROM dbo.app_xml_staging ORDER BY app_id').all()
    finally:
        engine.dispose()
    router = Router(load_contracts(contracts))
    documents = [(app_id, text.encode("utf-8")) for app_id, text in rows]
    started = time.perf_counter()
    failed = sum(isinstance(router.map(app_id, body), Failure) for app_id, body in documents)
    elapsed = time.perf_counter() - started
    print(f"  mapper alone: {len(documents) / elapsed:,.0f} apps/s ({failed} failed documents)")
    return len(documents) / elapsed


def reset_target(url: str, contracts: list[Path]) -> None:
    """A fresh target schema, created once up front so that the workers do not race to create it."""
    compiled = load_contracts(contracts)
    engine = engine_from_url(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS migration CASCADE")
        ensure_schema(engine, build_schema(compiled, engine.dialect.name))
    finally:
        engine.dispose()


def run_workers(url: str, contracts: list[Path], workers: int, batch: int, out: Path) -> list[dict]:
    """The CLI in ``workers`` processes side by side; their metrics."""
    reset_target(url, contracts)
    args = [arg for path in contracts for arg in ("--contract", str(path))]
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}", "XML_MAPPING_URL": url}
    cli = [sys.executable, "-m", "pipelines.xml_mapping", *args]
    processes = []
    for rem in range(workers):
        metrics = out / f"w{workers}_r{rem}.json"
        processes.append((metrics, subprocess.Popen(
            [*cli, "--mod", str(workers), "--rem", str(rem), "--batch", str(batch), "--metrics", str(metrics)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)))
    results = []
    for metrics, process in processes:
        _, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"worker failed: {err[-2000:]}")
        results.append(json.loads(metrics.read_text()))
    return results


def summarise(label: str, parts: list[dict]) -> dict:
    processed = sum(part["processed"] for part in parts)
    failed = sum(part["failed"] for part in parts)
    duration = max(part["duration_s"] for part in parts)
    rate = processed / duration if duration else 0.0
    rss = max(part["peak_rss_mb"] for part in parts)
    rows = sum(sum(part["rows_per_table"].values()) for part in parts)
    print(f"  {label}: {processed:,} apps ({failed} failed), {rows:,} rows in {duration:.2f} s = {rate:,.0f} apps/s,"
          f" peak RSS per worker {rss:.0f} MB")
    return {"processed": processed, "failed": failed, "rows": rows, "duration_s": duration, "apps_per_sec": rate,
            "peak_rss_mb": rss}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    contracts, real = contract_paths()
    print(f"{args.apps:,} applications from {'the shared corpus' if real else 'the generator (corpus absent)'}, "
          f"batch {args.batch}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    db = create_database("postgres", prefix="bench_xml_mapping")
    try:
        stage(db.url, args.apps, real)
        rounds = []
        with tempfile.TemporaryDirectory() as tmp:
            for number in range(1, args.repeat + 1):
                print(f"round {number}:")
                alone = mapper_alone(db.url, contracts)
                one = summarise("1 worker ", run_workers(db.url, contracts, 1, args.batch, Path(tmp)))
                two = summarise("2 workers", run_workers(db.url, contracts, 2, args.batch, Path(tmp)))
                scaling = two["apps_per_sec"] / one["apps_per_sec"] if one["apps_per_sec"] else 0.0
                print(f"  two / one = {scaling:.2f}x; one worker / mapper alone = {one['apps_per_sec'] / alone:.2f}")
                rounds.append({"mapper_alone": alone, "one": one, "two": two, "scaling": scaling})
        print(json.dumps({"rounds": rounds}, indent=1, default=str))
        one = statistics.median(r["one"]["apps_per_sec"] for r in rounds)
        scaling = statistics.median(r["scaling"] for r in rounds)
        print(f"medians over {len(rounds)} rounds: one worker {one:,.0f} apps/s (goal >= {GOAL_ONE:.0f}: "
              f"{'met' if one >= GOAL_ONE else 'NOT met'}), two / one {scaling:.2f} (goal >= {GOAL_SCALING}: "
              f"{'met' if scaling >= GOAL_SCALING else 'NOT met'}; best round {max(r['scaling'] for r in rounds):.2f})")
        return 0
    finally:
        drop_database(db)


if __name__ == "__main__":
    sys.exit(main())
