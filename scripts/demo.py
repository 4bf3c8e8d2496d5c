#!/usr/bin/env python
"""``make demo`` and ``make airflow``: an embedded Airflow under .airflow/ wired to local stand-ins.

  demo.py run     migrate a SQLite metadata DB, import pools, seed demo data, run every DAG once with
                  ``airflow dags test`` (one process) and print a summary table (exit 1 if a DAG ended
                  unexpectedly)
  demo.py run --fail FAMILY:TARGET
                  the same, with one partition or table of FAMILY broken for a real reason (its data, its
                  program, its target table): that run fails there, its alert is in its task log, and the
                  demo exits 1 with the rerun line (docs/try-a-failure.md)
  demo.py rerun FAMILY:TARGET
                  after such a demo: remove the fault, then run that partition alone on the data the demo
                  left (the family's "trigger a new run with ..." rerun); exit 0 when it succeeded
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
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The demo's Airflow home and the prefix of its databases; a test of the demo sets its own, so it never
#: takes over the data of a `make demo` (or of another test run) on the same servers.
HOME = Path(os.environ.get("PIPELINES_DEMO_HOME") or ROOT / ".airflow")
DB_PREFIX = os.environ.get("PIPELINES_DEMO_DB_PREFIX") or "pipelines_demo"
UI_PORT = 8080
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from devtools.demo import (  # noqa: E402
    DemoEnv,
    DemoFault,
    DemoSpec,
    chosen_fault,
    discover_demos,
    merge_config,
    served_airflow,
    stand_in_settings,
)
from devtools.local_airflow import AIRFLOW_CLI, airflow_environment  # noqa: E402
from devtools.localdb import moto_server  # noqa: E402
from pipelines.common.deadlines import DEADLINE_ALERTS_ENV  # noqa: E402
from pipelines.common.paths import DEFAULT_INCLUDE_DIR, INCLUDE_DIR_ENV, pools_file  # noqa: E402


def say(message: str) -> None:
    print(f"demo: {message}", flush=True)


def shown(path: Path) -> Path:
    """``path`` relative to the project when it lies inside it (.airflow/demo/...), else as it is."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


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


@dataclass(frozen=True)
class Failure:
    """The fault asked for with ``--fail FAMILY:TARGET``."""

    request: str
    fault: DemoFault
    target: str

    @property
    def dag_id(self) -> str:
        return self.fault.dag_id(self.target)

    @property
    def item(self) -> str:
        return self.fault.failed_item(self.target)


@dataclass
class Outcome:
    dag_id: str
    state: str
    seconds: float
    counts: str
    ok: bool
    note: str = ""
    arranged: bool = False

    @property
    def shown_state(self) -> str:
        """The state as the summary shows it: an arranged failure marked as such, anything unexpected with (!)."""
        if not self.ok:
            return f"{self.state} (!)"
        return f"{self.state} (arranged)" if self.arranged else self.state


def last_run(dag_id: str) -> tuple[str, str] | None:
    """(run_id, state) of the DAG's latest run in the demo's metadata DB."""
    if not (HOME / "airflow.db").exists():
        return None
    with sqlite3.connect(HOME / "airflow.db") as db:
        row = db.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
    return (row[0], row[1]) if row else None


def last_run_state(dag_id: str) -> str:
    run = last_run(dag_id)
    return run[1] if run else "not run"


def item_states(dag_id: str) -> dict[str, str]:
    """State of each task instance of the latest run, named as its alert names it (``task [label]``)."""
    run = last_run(dag_id)
    if run is None:
        return {}
    with sqlite3.connect(HOME / "airflow.db") as db:
        rows = db.execute("SELECT task_id, map_index, rendered_map_index, state FROM task_instance "
                          "WHERE dag_id = ? AND run_id = ?", (dag_id, run[0])).fetchall()
    return {task if index < 0 else f"{task} [{label or index}]": state or "none"
            for task, index, label, state in rows}


def siblings(items: dict[str, str], item: str) -> dict[str, str]:
    """The other mapped instances of ``item``'s task (the other partitions or tables)."""
    task = item.partition(" [")[0]
    return {name: state for name, state in items.items() if name != item and name.startswith(f"{task} [")}


def failed_as_arranged(failure: Failure, log: Path) -> tuple[bool, str]:
    """True when only the arranged item failed (its siblings succeeded) and its alert is in the task log;
    with one line saying what happened."""
    items = item_states(failure.dag_id)
    others = siblings(items, failure.item)
    alert = f"Task failed: {failure.dag_id}.{failure.item}"
    alert_logged = alert in log.read_text(errors="replace")
    ok = items.get(failure.item) == "failed" and all(s == "success" for s in others.values()) and alert_logged
    succeeded = f"; {', '.join(sorted(others))} succeeded" if others else ""
    return ok, (f"{failure.item} {items.get(failure.item, 'not run')}{succeeded}; alert "
                f"{'in' if alert_logged else 'NOT in'} the task log ({shown(log)}: {alert!r})")


def run_spec(spec: DemoSpec, demo_env: DemoEnv, env: dict[str, str], failure: Failure | None = None) -> Outcome:
    say(f"{spec.dag_id}: seeding demo data")
    spec.seed(demo_env)
    arranged = failure is not None and failure.dag_id == spec.dag_id
    if arranged:
        say(f"FAIL={failure.request}: {failure.fault.arrange(demo_env, failure.target)}")
    log = HOME / "demo" / f"{spec.dag_id}.log"
    say(f"{spec.dag_id}: airflow dags test (log: {shown(log)})")
    started = time.monotonic()
    airflow(env, "dags", "test", spec.dag_id, "-c", json.dumps(dict(spec.conf)), log=log)
    seconds = time.monotonic() - started
    state = last_run_state(spec.dag_id)
    counts = spec.counts(demo_env) if spec.counts else {}
    ok, note = state == spec.expect_state, ""
    if arranged:
        as_arranged, note = failed_as_arranged(failure, log)
        ok = state == "failed" and as_arranged
    return Outcome(spec.dag_id, state, seconds, ", ".join(f"{k}={v}" for k, v in counts.items()), ok, note,
                   arranged)


def print_summary(outcomes: list[Outcome]) -> None:
    headers = ("DAG id", "state", "duration", "key counts")
    rows = [(o.dag_id, o.shown_state, f"{o.seconds:.1f}s", o.counts) for o in outcomes]
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


def demo_include(env: dict[str, str]) -> Path:
    """The demo's own copy of include/ (the Fileload/Insight demo makes one; made here if it did not), so
    a fault's configuration never touches the project's include/."""
    if INCLUDE_DIR_ENV not in env:
        copy = HOME / "demo" / "include"
        shutil.copytree(DEFAULT_INCLUDE_DIR, copy, dirs_exist_ok=True)
        env[INCLUDE_DIR_ENV] = str(copy)
    return Path(env[INCLUDE_DIR_ENV])


def setup(stack: ExitStack, failure: Failure | None = None, *, keep_data: bool = False
          ) -> tuple[list[DemoSpec], DemoEnv, dict[str, str]]:
    """Discover the specs, start moto (stopped when ``stack`` closes), build and migrate the Airflow home."""
    specs = discover_demos()
    demo_env = DemoEnv(aws=stack.enter_context(moto_server()), work_dir=HOME / "demo", db_prefix=DB_PREFIX,
                       keep_data=keep_data)
    env = airflow_env(stand_in_settings(specs, demo_env))
    if failure is not None:
        merge_config(demo_include(env), failure.fault.config)
    prepare_home(env)
    return specs, demo_env, env


def lineage_settings() -> dict[str, str]:
    """With LINEAGE=1 (``make demo LINEAGE=1``) every DAG's OpenLineage events go to a file, one per line,
    for ``make lineage-graph``; otherwise OpenLineage stays off (no transport) and costs nothing."""
    if os.environ.get("LINEAGE", "") in ("", "0"):
        return {}
    events = HOME / "demo" / "lineage.jsonl"
    events.unlink(missing_ok=True)
    say(f"OpenLineage events: {shown(events)} (then: make lineage-graph)")
    return {"AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events),
                                                           "append": True}),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "pipelines-demo", "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "True"}


def parse_failure(request: str) -> Failure:
    try:
        fault, target = chosen_fault(request)
    except ValueError as exc:
        sys.exit(f"demo: {exc}")
    return Failure(request, fault, target)


def report_failure(failure: Failure, outcomes: list[Outcome]) -> None:
    arranged = next((o for o in outcomes if o.dag_id == failure.dag_id), None)
    if arranged is None:
        say(f"FAIL={failure.request}: {failure.dag_id} did not run")
        return
    verdict = "failed as arranged" if arranged.ok else "did NOT fail as arranged"
    say(f"FAIL={failure.request}: {failure.dag_id} {verdict}: {arranged.note}")
    say(f"rerun it: make demo-rerun FAIL={failure.request}  (removes the fault, then runs {failure.dag_id} for "
        f"that partition alone: {json.dumps(dict(failure.fault.rerun_conf(failure.target)))}; "
        "see docs/try-a-failure.md)")


def run(request: str | None = None, only: list[str] | None = None) -> int:
    failure = parse_failure(request) if request else None
    with ExitStack() as stack:
        specs, demo_env, env = setup(stack, failure)
        env.update(lineage_settings())
        chosen = [spec for spec in specs if not only or spec.dag_id in only]
        outcomes = [run_spec(spec, demo_env, env, failure) for spec in chosen]
    print_summary(outcomes)
    failed = [o.dag_id for o in outcomes if not o.ok]
    if failed:
        say(f"unexpected end state for: {', '.join(failed)} (logs in .airflow/demo/)")
    if failure is not None:
        report_failure(failure, outcomes)
        return 1  # a demo asked to fail ends red, as a night with a failed partition does
    return 1 if failed else 0


def rerun(request: str) -> int:
    """Repair the fault of ``make demo FAIL=...`` and run that partition alone on the data it left."""
    failure = parse_failure(request)
    if last_run_state(failure.dag_id) != "failed":
        sys.exit(f"demo: {failure.dag_id} has no failed run to rerun; run 'make demo FAIL={request}' first")
    with ExitStack() as stack:
        _, demo_env, env = setup(stack, failure, keep_data=True)
        failure.fault.repair(demo_env, failure.target)
        say(f"FAIL={request}: repaired")
        conf = dict(failure.fault.rerun_conf(failure.target))
        log = HOME / "demo" / f"{failure.dag_id}.rerun.log"
        say(f"{failure.dag_id}: airflow dags test -c '{json.dumps(conf)}' (log: {shown(log)})")
        airflow(env, "dags", "test", failure.dag_id, "-c", json.dumps(conf), log=log)
    state, items = last_run_state(failure.dag_id), item_states(failure.dag_id)
    ran = ", ".join(f"{name} {item_state}" for name, item_state in sorted(items.items()))
    say(f"rerun of {failure.dag_id}: {state} ({ran})")
    return 0 if state == "success" and items.get(failure.item) == "success" else 1


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
    parser.add_argument("command", choices=["run", "rerun", "serve"])
    parser.add_argument("fail", nargs="?", help="rerun: the FAMILY:TARGET the demo failed")
    parser.add_argument("--fail", dest="fail_run", metavar="FAMILY:TARGET",
                        help="run: break one partition or table of FAMILY (e.g. appxml:1, opendental:definition)")
    parser.add_argument("--only", action="append", metavar="DAG_ID",
                        help="run: only these DAGs (repeatable), e.g. the one a failure is arranged in")
    args = parser.parse_args()
    if args.command == "rerun":
        if not args.fail:
            parser.error("rerun needs FAMILY:TARGET, the FAIL= of the demo that failed")
        return rerun(args.fail)
    return run(args.fail_run, args.only) if args.command == "run" else serve()


if __name__ == "__main__":
    sys.exit(main())
