#!/usr/bin/env python
"""``make bench-scheduler``: a 446-table ``opendental_nightly`` run through a real Airflow.

  1. a throwaway MariaDB source of --tables OpenDental tables (the shared DDL plus generated ones, all three
     load strategies, about --rows rows each), an empty replica and PostgreSQL, and a real api-server,
     scheduler and dag-processor (LocalExecutor, parallelism 8, the project's pools), as the e2e tests start;
  2. one manual run over every table, --parallel tables at a time; while it runs (and once after) every
     --poll seconds: the UI's grid endpoints (/ui/grid/structure, /ui/grid/runs, /ui/grid/ti_summaries), the
     REST task-instance listing page by page, and the api-server's resident memory (all its processes);
  3. from the REST API and the scheduler's log: wall time, the sum of the task instances' run times and of
     the pipeline's own stage seconds (from the summary), the time no task ran, scheduling lag, the
     scheduler's loop times, the plan's and the summary's XCom sizes.

Prints a table and writes the figures as JSON to benchmarks/out/. Heavy (about 450 task instances, one per
table): run it once, on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import psutil  # noqa: E402

from devtools.opendental.wide import PRODUCTION_TABLE_COUNT  # noqa: E402
from tests.support.airflow_cluster import AirflowCluster, ClusterError  # noqa: E402
from tests.support.wide_night import DAG_ID, WideNight, wide_night  # noqa: E402

OUT_DIR = ROOT / "benchmarks" / "out"
LOOP_LINE = re.compile(r"Ran scheduling loop in ([0-9.]+) ms")
TABLE_TASK = "copy_table"  # one mapped instance per table: extract, load, transform, validate
FINISHED_STATES = {"success", "failed", "skipped", "upstream_failed"}


def say(message: str) -> None:
    print(f"bench-scheduler: {message}", flush=True)


def percentiles(values: Iterable[float]) -> dict[str, float]:
    data = sorted(values)
    if not data:
        return {"n": 0}
    pick = lambda share: data[min(len(data) - 1, int(share * len(data)))]  # noqa: E731
    return {"n": len(data), "mean": round(statistics.fmean(data), 3), "p50": round(pick(0.5), 3),
            "p95": round(pick(0.95), 3), "max": round(data[-1], 3)}


# --- what the UI and a REST client see while the run is displayed ------------------------------------


def timed_get(cluster: AirflowCluster, path: str) -> tuple[float, int, bytes]:
    """(seconds, HTTP status, body) of one GET on the api-server, with the cluster's token."""
    request = urllib.request.Request(f"{cluster.base_url}{path}",
                                     headers={"Authorization": f"Bearer {cluster.token()}"})
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=300) as reply:
        body = reply.read()
        return time.monotonic() - started, reply.status, body


def grid_paths(run_id: str) -> dict[str, str]:
    return {"grid_structure": f"/ui/grid/structure/{DAG_ID}",
            "grid_runs": f"/ui/grid/runs/{DAG_ID}?limit=10",
            "grid_ti_summaries": f"/ui/grid/ti_summaries/{DAG_ID}?run_ids={quote(run_id)}"}


def list_task_instances(cluster: AirflowCluster, run_id: str, page: int = 100) -> tuple[list[float], int]:
    """Every page of the run's task instances as a REST client reads them: each page's seconds, and how many."""
    seconds, offset = [], 0
    while True:
        path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances?limit={page}&offset={offset}"
        took, _, body = timed_get(cluster, path)
        seconds.append(took)
        reply = json.loads(body)
        offset += len(reply["task_instances"])
        if not reply["task_instances"] or offset >= reply["total_entries"]:
            return seconds, offset


def api_server_rss(cluster: AirflowCluster) -> int:
    """Resident bytes of the api-server and every process it started (its uvicorn workers)."""
    root = psutil.Process(cluster.processes["api-server"].pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        with suppress(psutil.NoSuchProcess):  # a worker that ended between listing and reading
            total += process.memory_info().rss
    return total


class DisplayPoller:
    """Polls the grid and task-instance endpoints and the api-server's memory every ``poll`` seconds in a
    thread, as a browser showing the run (and a REST client listing it) would."""

    def __init__(self, cluster: AirflowCluster, run_id: str, poll: float) -> None:
        self.cluster, self.run_id, self.poll = cluster, run_id, poll
        self.samples: dict[str, list[float]] = {name: [] for name in [*grid_paths(run_id), "ti_page",
                                                                      "ti_all_pages"]}
        self.sizes: dict[str, int] = {}
        self.rss: list[int] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="display-poller")

    def __enter__(self) -> DisplayPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()  # the finished run, as it stays displayed

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            self.sample()

    def sample(self) -> None:
        calling = ""
        try:
            for name, path in grid_paths(self.run_id).items():
                calling = name
                seconds, _, body = timed_get(self.cluster, path)
                self.samples[name].append(seconds)
                self.sizes[name] = max(self.sizes.get(name, 0), len(body))
            calling = "taskInstances pages"
            pages, _ = list_task_instances(self.cluster, self.run_id)
            self.samples["ti_page"] += pages
            self.samples["ti_all_pages"].append(sum(pages))
            calling = "api-server RSS"
            self.rss.append(api_server_rss(self.cluster))
        except (OSError, ValueError) as exc:  # counted and reported: a slow or failing endpoint is a finding
            self.errors.append(f"{calling}: {type(exc).__name__}: {str(exc)[:200]}")

    def figures(self) -> dict[str, Any]:
        return {"endpoints_seconds": {name: percentiles(values) for name, values in self.samples.items()},
                "largest_response_bytes": self.sizes, "errors": self.errors,
                "api_server_rss_mb": percentiles(rss / 2**20 for rss in self.rss)}


# --- where the night's time went ----------------------------------------------------------------------


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def busy_seconds(intervals: list[tuple[datetime, datetime]]) -> float:
    """Length of the union of the intervals: the time at least one task instance was running."""
    total, end = 0.0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total, end = total + (stop - start).total_seconds(), stop
        elif stop > end:
            total, end = total + (stop - end).total_seconds(), stop
    return total


def task_figures(instances: list[dict[str, Any]], wall: float) -> dict[str, Any]:
    ran = [ti for ti in instances if ti["start_date"] and ti["end_date"]]
    spans = [(parse_time(ti["start_date"]), parse_time(ti["end_date"])) for ti in ran]
    lag = [(parse_time(ti["start_date"]) - parse_time(ti["queued_when"])).total_seconds()
           for ti in ran if ti.get("queued_when")]
    task_sum = sum((end - start).total_seconds() for start, end in spans)
    by_task = {TABLE_TASK: percentiles(ti["duration"] or 0 for ti in ran if ti["task_id"] == TABLE_TASK)}
    states: dict[str, int] = {}
    for ti in instances:
        states[ti["state"]] = states.get(ti["state"], 0) + 1
    return {"task_instances": len(instances), "states": states, "task_seconds_sum": round(task_sum, 1),
            "tasks_running_on_average": round(task_sum / wall, 2) if wall else None,
            "no_task_running_share": round(1 - busy_seconds(spans) / wall, 3) if wall else None,
            "queued_to_running_seconds": percentiles(lag), "task_seconds_by_stage": by_task}


def scheduler_loops(cluster: AirflowCluster, since_line: int) -> dict[str, Any]:
    """The scheduler's loop durations (its own debug line) logged since line ``since_line`` of its log."""
    lines = cluster.log_path("scheduler").read_text(errors="replace").splitlines()[since_line:]
    return percentiles(float(m.group(1)) for line in lines if (m := LOOP_LINE.search(line)))


def log_lines(cluster: AirflowCluster, component: str) -> int:
    path = cluster.log_path(component)
    return len(path.read_text(errors="replace").splitlines()) if path.exists() else 0


def validated_runs(cluster: AirflowCluster, run_id: str) -> dict[int, dict[str, Any]]:
    """Each validated table's run record (map index -> its table task's XCom), read from the metadata
    database in one query: complete for a run that has not finished too, unlike the summary."""
    with cluster.metadata.connect() as conn:
        rows = conn.execute("SELECT map_index, value FROM xcom WHERE dag_id = %s AND run_id = %s AND "
                            "task_id = %s AND key = 'return_value'", [DAG_ID, run_id, TABLE_TASK]).fetchall()
    return {index: json.loads(value) if isinstance(value, str) else value for index, value in rows}


def optional_xcom(cluster: AirflowCluster, run_id: str, task_id: str) -> Any:
    try:
        return cluster.xcom(DAG_ID, run_id, task_id)
    except ClusterError:  # not (yet) written: the run did not get that far
        return None


def pipeline_figures(cluster: AirflowCluster, run_id: str, instances: list[dict[str, Any]]) -> dict[str, Any]:
    """The pipeline's own seconds (extract + load + transform of each validated table; its validation's
    counting is not timed, so it counts as Airflow's) against those tables' task run times, the plan's
    strategies, and the XCom sizes of the plan (the map the table tasks read) and of the summary."""
    plan, summary = optional_xcom(cluster, run_id, "plan") or [], optional_xcom(cluster, run_id, "summary")
    validated = validated_runs(cluster, run_id)
    work = sum(stage["seconds"] for run in validated.values() for stage in run["stages"].values())
    task_time = sum(ti["duration"] or 0 for ti in instances
                    if ti["task_id"] == TABLE_TASK and ti["map_index"] in validated)
    strategies: dict[str, int] = {}
    for table in plan:
        strategies[table["strategy"]] = strategies.get(table["strategy"], 0) + 1
    return {"tables_planned": len(plan), "strategies": strategies, "tables_validated": len(validated),
            "pipeline_stage_seconds_sum": round(work, 1), "their_task_seconds_sum": round(task_time, 1),
            "airflow_share_of_task_time": round(1 - work / task_time, 3) if task_time else None,
            "xcom_bytes": {"plan": len(json.dumps(plan)),
                           "summary": None if summary is None else len(json.dumps(summary))}}


# --- the run ------------------------------------------------------------------------------------------


def wait_or_give_up(cluster: AirflowCluster, run_id: str, timeout: float) -> str:
    """The run's end state, or ``unfinished`` when --timeout ran out first (its figures so far are kept)."""
    try:
        return cluster.wait_for_runs([(DAG_ID, run_id)], timeout=timeout)[(DAG_ID, run_id)]
    except ClusterError as exc:
        say(f"gave up waiting: {str(exc).splitlines()[0]}")
        return "unfinished"


def run_wall_seconds(run: dict[str, Any]) -> float:
    end = parse_time(run["end_date"]) or datetime.now(UTC)
    return (end - parse_time(run["start_date"])).total_seconds()


def throughput(instances: list[dict[str, Any]], wall: float) -> dict[str, Any]:
    """Finished task instances per minute, and the night's wall time at that rate (for an unfinished run)."""
    done = sum(ti["state"] in FINISHED_STATES for ti in instances)
    rate = done / (wall / 60) if wall else 0
    return {"finished_task_instances": done, "task_instances_per_minute": round(rate, 1),
            "projected_wall_seconds": round(len(instances) / rate * 60) if rate else None}


def measure_night(night: WideNight, parallel: int, poll: float, timeout: float) -> dict[str, Any]:
    cluster = night.cluster
    loop_start = log_lines(cluster, "scheduler")
    started = time.monotonic()
    run_id = night.trigger(parallel)
    say(f"triggered {run_id} over {len(night.source_rows)} source tables, parallel {parallel}")
    with DisplayPoller(cluster, run_id, poll) as poller:
        state = wait_or_give_up(cluster, run_id, timeout)
    observed = time.monotonic() - started
    wall = run_wall_seconds(cluster.api("GET", f"dags/{DAG_ID}/dagRuns/{run_id}"))
    instances = cluster.task_instances(DAG_ID, run_id)
    return {"run_id": run_id, "state": state, "wall_seconds": round(wall, 1),
            "trigger_to_finished_seconds": round(observed, 1), **task_figures(instances, wall),
            **throughput(instances, wall), **pipeline_figures(cluster, run_id, instances),
            "scheduler_loop_ms": scheduler_loops(cluster, loop_start), **poller.figures()}


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1)}


def print_table(result: dict[str, Any]) -> None:
    endpoints = result["endpoints_seconds"]
    rows = [("tables planned / validated", f"{result['tables_planned']} / {result['tables_validated']} "
             f"({', '.join(f'{k} {v}' for k, v in sorted(result['strategies'].items()))})"),
            ("run state", result["state"]),
            ("task instances", f"{result['task_instances']} {result['states']}"),
            ("wall time (run start to end)", f"{result['wall_seconds']:.1f} s"),
            ("finished task instances / minute", f"{result['task_instances_per_minute']} "
             f"({result['finished_task_instances']} finished; the whole run at that rate: "
             f"{result['projected_wall_seconds']} s)"),
            ("sum of task run times", f"{result['task_seconds_sum']:.1f} s "
             f"({result['tasks_running_on_average']} running on average)"),
            ("validated tables: own stage seconds", f"{result['pipeline_stage_seconds_sum']:.1f} s in "
             f"{result['their_task_seconds_sum']:.1f} s of their {TABLE_TASK} run time"),
            ("Airflow share of that task time", pct(result["airflow_share_of_task_time"])),
            ("wall time with no task running", pct(result["no_task_running_share"])),
            ("queued -> running (s)", fmt(result["queued_to_running_seconds"])),
            ("scheduler loop (ms)", fmt(result["scheduler_loop_ms"])),
            *[(f"GET {name} (s)", fmt(stats)) for name, stats in endpoints.items()],
            ("api-server RSS (MB)", fmt(result["api_server_rss_mb"])),
            ("XCom bytes plan / summary", f"{result['xcom_bytes']['plan']} / {result['xcom_bytes']['summary']}"),
            ("endpoint errors", str(len(result["errors"])))]
    width = max(len(label) for label, _ in rows)
    print("\n".join(f"{label.ljust(width)}  {value}" for label, value in rows), flush=True)


def pct(share: float | None) -> str:
    return "-" if share is None else f"{share:.1%}"


def fmt(stats: dict[str, float]) -> str:
    if not stats.get("n"):
        return "-"
    return f"p50 {stats['p50']}  p95 {stats['p95']}  max {stats['max']}  (n={stats['n']})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=PRODUCTION_TABLE_COUNT)
    parser.add_argument("--rows", type=int, default=20, help="rows of a generated table (1x to 3x)")
    parser.add_argument("--parallel", type=int, default=8, help="the run's param parallel (1-8)")
    parser.add_argument("--poll", type=float, default=15, help="seconds between polls of the endpoints")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds the run may take")
    args = parser.parse_args()
    before = machine()
    with tempfile.TemporaryDirectory(prefix="bench_scheduler_") as tmp:
        started = time.monotonic()
        with wide_night(Path(tmp), args.tables, args.rows) as night:
            say(f"source seeded and Airflow healthy in {time.monotonic() - started:.0f} s")
            try:
                result = measure_night(night, args.parallel, args.poll, args.timeout)
            except Exception:
                diagnostics = night.cluster.diagnostics(logs=["api-server"])
                say(f"the night did not finish; what the components said:\n{diagnostics}")
                raise
    result.update(command=" ".join(["benchmarks/bench_scheduler.py", *sys.argv[1:]]), args=vars(args),
                  machine_before=before, machine_after=machine(), finished_at=datetime.now(UTC).isoformat())
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"scheduler_{args.tables}_{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print_table(result)
    say(f"figures written to {out.relative_to(ROOT)}")
    return 0 if result["state"] in ("success", "unfinished") else 1


if __name__ == "__main__":
    sys.exit(main())
