#!/usr/bin/env python
"""``make demo`` and ``make airflow``: an embedded Airflow under .airflow/ wired to local stand-ins.

  demo.py run     migrate a SQLite metadata DB, import pools, seed demo data, run every DAG once with
                  ``airflow dags test`` (one process) and print a summary table (exit 1 if a DAG ended
                  unexpectedly)
  demo.py serve   the demo data behind a local Airflow on real components: api-server on
                  http://127.0.0.1:8080, scheduler, dag-processor and triggerer as separate processes,
                  LocalExecutor, metadata in the local PostgreSQL; a component that exits is restarted
                  (named loudly here); writes .airflow/airflow.env for ``make shell``; Ctrl-C stops it all

Connections come from ``AIRFLOW_CONN_*`` variables (JSON) pointing at the local MariaDB and PostgreSQL
and at an in-process moto server. Slack alerts go to the log unless SLACK_WEBHOOK_URL is set.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / ".airflow"
UI_PORT = 8080
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from devtools.demo import DemoEnv, DemoSpec, discover_demos, served_airflow, stand_in_settings  # noqa: E402
from devtools.local_airflow import AIRFLOW_CLI, airflow_environment  # noqa: E402
from devtools.localdb import moto_server  # noqa: E402
from pipelines.common.deadlines import DEADLINE_ALERTS_ENV  # noqa: E402
from pipelines.common.paths import pools_file  # noqa: E402


def say(message: str) -> None:
    print(f"demo: {message}", flush=True)


def airflow_env(extra: dict[str, str]) -> dict[str, str]:
    # `airflow dags test` of a DAG with a Deadline Alert crashes as the run succeeds on Airflow 3.3.2 (docs/runbook.md).
    return {**os.environ, **airflow_environment(HOME), DEADLINE_ALERTS_ENV: "off", **extra}


def airflow(env: dict[str, str], *args: str, log: Path) -> int:
    """Run an airflow CLI command with its output in ``log``; returns the exit code."""
    with log.open("w") as out:
        command = [str(AIRFLOW_CLI), *args]
        return subprocess.run(command, env=env, check=False, stdout=out, stderr=subprocess.STDOUT).returncode


def prepare_home(env: dict[str, str]) -> None:
    HOME.mkdir(exist_ok=True)
    (HOME / "demo").mkdir(exist_ok=True)
    say(f"metadata DB: {HOME / 'airflow.db'} (airflow db migrate)")
    if airflow(env, "db", "migrate", log=HOME / "demo" / "db_migrate.log") != 0:
        sys.exit(f"demo: airflow db migrate failed; see {HOME / 'demo' / 'db_migrate.log'}")
    if json.loads(pools_file().read_text()):
        say(f"pools: airflow pools import {pools_file().relative_to(ROOT)}")
        if airflow(env, "pools", "import", str(pools_file()), log=HOME / "demo" / "pools_import.log") != 0:
            sys.exit(f"demo: airflow pools import failed; see {HOME / 'demo' / 'pools_import.log'}")


@dataclass
class Outcome:
    dag_id: str
    state: str
    seconds: float
    counts: str
    ok: bool


def last_run_state(dag_id: str) -> str:
    with sqlite3.connect(HOME / "airflow.db") as db:
        row = db.execute(
            "SELECT state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
    return row[0] if row else "not run"


def run_spec(spec: DemoSpec, demo_env: DemoEnv, env: dict[str, str]) -> Outcome:
    say(f"{spec.dag_id}: seeding demo data")
    spec.seed(demo_env)
    log = HOME / "demo" / f"{spec.dag_id}.log"
    say(f"{spec.dag_id}: airflow dags test (log: {log.relative_to(ROOT)})")
    started = time.monotonic()
    airflow(env, "dags", "test", spec.dag_id, "-c", json.dumps(dict(spec.conf)), log=log)
    seconds = time.monotonic() - started
    state = last_run_state(spec.dag_id)
    counts = spec.counts(demo_env) if spec.counts else {}
    return Outcome(spec.dag_id, state, seconds, ", ".join(f"{k}={v}" for k, v in counts.items()),
                   state == spec.expect_state)


def print_summary(outcomes: list[Outcome]) -> None:
    headers = ("DAG id", "state", "duration", "key counts")
    rows = [(o.dag_id, o.state if o.ok else f"{o.state} (!)", f"{o.seconds:.1f}s", o.counts) for o in outcomes]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    line = "  ".join(f"{{:<{width}}}" for width in widths)
    print()
    print(line.format(*headers).rstrip())
    print(line.format(*("-" * width for width in widths)))
    for row in rows:
        print(line.format(*row).rstrip())
    if not rows:
        print("(no pipeline DAGs yet)")
    print()


def setup(stack: ExitStack) -> tuple[list[DemoSpec], DemoEnv, dict[str, str]]:
    """Discover the specs, start moto (stopped when ``stack`` closes), build and migrate the Airflow home."""
    specs = discover_demos()
    demo_env = DemoEnv(aws=stack.enter_context(moto_server()), work_dir=HOME / "demo")
    env = airflow_env(stand_in_settings(specs, demo_env))
    prepare_home(env)
    return specs, demo_env, env


def lineage_settings() -> dict[str, str]:
    """With LINEAGE=1 (``make demo LINEAGE=1``) every DAG's OpenLineage events go to a file, one per line,
    for ``make lineage-graph``; otherwise OpenLineage stays off (no transport) and costs nothing."""
    if os.environ.get("LINEAGE", "") in ("", "0"):
        return {}
    events = HOME / "demo" / "lineage.jsonl"
    events.unlink(missing_ok=True)
    say(f"OpenLineage events: {events.relative_to(ROOT)} (then: make lineage-graph)")
    return {"AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events),
                                                           "append": True}),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "pipelines-demo", "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "True"}


def run() -> int:
    with ExitStack() as stack:
        specs, demo_env, env = setup(stack)
        env.update(lineage_settings())
        outcomes = [run_spec(spec, demo_env, env) for spec in specs]
    print_summary(outcomes)
    failed = [o.dag_id for o in outcomes if not o.ok]
    if failed:
        say(f"unexpected end state for: {', '.join(failed)} (logs in .airflow/demo/)")
        return 1
    return 0


def stop_on_signals() -> None:
    """Ctrl-C, a terminal hang-up or a kill end the serve loop the same way: everything is stopped. SIGINT is
    set explicitly, as a process started in the background of a script inherits it ignored."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)


def serve() -> int:
    stop_on_signals()
    try:
        with served_airflow(HOME, UI_PORT, say=say) as served:
            user, password = served.login
            say(f"UI ready: http://127.0.0.1:{UI_PORT}  login: {user} / {password}")
            say(f"CLI: make shell (a shell whose airflow is this one; env file {served.env_file.relative_to(ROOT)})")
            say("DAGs start paused; runs happen when triggered (no nightly schedule locally). Ctrl-C stops it all.")
            served.airflow.supervise(say)
    except KeyboardInterrupt:
        say("stopped: every component, the moto stand-in and the metadata DB")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "serve"])
    args = parser.parse_args()
    return run() if args.command == "run" else serve()


if __name__ == "__main__":
    sys.exit(main())
