"""`make demo FAIL=appxml:1` as a user runs it (scripts/demo.py in its own process, `airflow dags test` under
its Airflow home): the arranged partition fails and only it, its alert (ids only) is in the task log, the
demo exits 1 with the rerun line, and `make demo-rerun FAIL=appxml:1` then stages that partition alone."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.local_airflow import PROJECT_ROOT
from devtools.localdb import Database, drop_database, unique_name
from tests.support.readme import ROOT, shell_blocks

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
DEMO = PROJECT_ROOT / "scripts" / "demo.py"
FAILED_ITEM = "Task failed: appxml_staging.stage_partition [rem=1/4]"


@pytest.fixture
def demo_env(tmp_path) -> Iterator[dict[str, str]]:
    """The demo's environment with its own Airflow home and database prefix (never `make demo`'s), whose
    databases are dropped afterwards."""
    prefix = unique_name("pipelines_test_demo")
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    yield {**inherited, "PIPELINES_DEMO_HOME": str(tmp_path), "PIPELINES_DEMO_DB_PREFIX": prefix,
           "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT)])}
    for db in demo_databases(prefix):
        drop_database(db)


def demo_databases(prefix: str) -> list[Database]:
    pg = Database("postgres", "postgres")
    mysql = Database("mysql", "mysql")
    with pg.connect() as conn:
        names = [("postgres", row[0]) for row in
                 conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{prefix}%",))]
    with mysql.connect() as conn:
        cur = conn.cursor()
        cur.execute("SHOW DATABASES LIKE %s", (f"{prefix}%",))
        names += [("mysql", row[0]) for row in cur.fetchall()]
    return [Database(engine, name) for engine, name in names]


def demo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(DEMO), *args], env=env, cwd=PROJECT_ROOT, capture_output=True,
                          text=True, check=False)


def latest_run_items(home: Path, dag_id: str) -> dict[str, str]:
    """``{task or task [label]: state}`` of the DAG's latest run in the demo's metadata DB."""
    with sqlite3.connect(home / "airflow.db") as db:
        (run_id,) = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1",
                               (dag_id,)).fetchone()
        rows = db.execute("SELECT task_id, map_index, rendered_map_index, state FROM task_instance "
                          "WHERE dag_id = ? AND run_id = ?", (dag_id, run_id)).fetchall()
    return {task if index < 0 else f"{task} [{label}]": state for task, index, label, state in rows}


def alert_block(log: str) -> list[str]:
    """The lines of the alert the task log shows, from its title to its ``Log:`` line."""
    lines = log.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(FAILED_ITEM))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("Log: "))
    return lines[start:end + 1]


def documented_requests() -> tuple[str, str]:
    """The FAIL= requests of the runbook page's first block (docs/try-a-failure.md): what this test runs."""
    block = shell_blocks(ROOT / "docs" / "try-a-failure.md")[0].text
    run, rerun = (line.split("#")[0].split() for line in block.splitlines() if line.startswith("make "))
    assert (run[:2], rerun[:2]) == (["make", "demo"], ["make", "demo-rerun"]), block
    return run[2].removeprefix("FAIL="), rerun[2].removeprefix("FAIL=")


@pytest.mark.timeout(1800)
def test_a_demo_partition_fails_with_its_alert_and_reruns_alone_after_the_repair(demo_env):
    home = Path(demo_env["PIPELINES_DEMO_HOME"])
    request, rerun_request = documented_requests()
    assert request == rerun_request == "appxml:1"  # the page and this test's expectations name the same fault

    failed = demo(demo_env, "run", "--fail", request, "--only", "appxml_staging")

    assert failed.returncode == 1, failed.stdout[-3000:] + failed.stderr[-3000:]
    stages = {item: state for item, state in latest_run_items(home, "appxml_staging").items()
              if item.startswith("stage_partition")}
    assert stages == {"stage_partition [rem=0/4]": "success", "stage_partition [rem=1/4]": "failed",
                      "stage_partition [rem=2/4]": "success", "stage_partition [rem=3/4]": "success"}
    alert = alert_block((home / "demo" / "appxml_staging.log").read_text())
    assert "Mapped item: rem=1/4" in alert
    assert any(line.startswith("Error: Refused: rem=1/4: dbo.app_xml_staging refused the batch of app_id ")
               for line in alert), alert
    assert not any("<" in line or "Failing row" in line for line in alert), alert  # ids only, no XML or rows
    assert "appxml_staging failed as arranged" in failed.stdout
    assert failed.stdout.rstrip().splitlines()[-1].startswith("demo: rerun it: make demo-rerun FAIL=appxml:1")

    rerun = demo(demo_env, "rerun", rerun_request)

    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    rerun_stages = {item: state for item, state in latest_run_items(home, "appxml_staging").items()
                    if item.startswith("stage_partition")}
    assert rerun_stages == {"stage_partition [rem=1/4]": "success"}  # the other partitions are not run again
    appxml = Database("postgres", f"{demo_env['PIPELINES_DEMO_DB_PREFIX']}_appxml")
    assert appxml.scalar("SELECT count(*) FROM dbo.app_xml_staging WHERE mod(app_id, 4) = 1") > 0
    assert appxml.scalar("SELECT count(*) - count(DISTINCT app_id) FROM dbo.app_xml_staging") == 0
