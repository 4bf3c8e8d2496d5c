"""Whole Fileload and Insight runs with dag.test(): stand-in programs, lock tables on PostgreSQL, Slack sink."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time

import pytest

from pipelines.common.paths import read_sql
from pipelines.fileload_insight.factory import build_dags
from tests.fixtures.fileload_insight.partitions import (
    STANDIN,
    load_partitions,
    partition_entry,
    partitions_document,
    records,
)
from tests.fixtures.fileload_insight.standin_program import MEMBER_LINE

pytestmark = pytest.mark.integration

PASSWORD = "test-only-password"


@pytest.fixture
def partition_a(tmp_path, database_factory, set_connection):
    outcomes = database_factory("postgres")
    set_connection("fli_it_a", json.dumps({**json.loads(outcomes.airflow_conn()), "password": PASSWORD}))
    record_dir, lock_dir = tmp_path / "records", tmp_path / "locks"
    record_dir.mkdir()
    return partition_a_dags(outcomes.name, record_dir, lock_dir), outcomes, record_dir, lock_dir


def partition_a_dags(outcomes_db: str, record_dir, lock_dir) -> dict:
    """Freshly built DAGs of partition a (a test may change their tasks without affecting another run)."""
    return build_dags(load_partitions(partitions_document(
        {"a": partition_entry("a", "fli_it_a", outcomes_db, record_dir, [1, 2, 3])}, lock_dir)))


def lock_rows(db) -> tuple[int, int]:
    return (db.scalar("SELECT count(*) FROM partition_run_lock"), db.scalar("SELECT count(*) FROM insight_lock_flag"))


def plant_stale_flag(db) -> None:
    with db.connect() as conn:
        conn.execute(read_sql("postgres/fileload_insight/lock_tables.sql"))
        conn.execute("INSERT INTO insight_lock_flag VALUES ('a', 'gr_insight__a', 'crashed_run', now() - interval "
                     "'3 hours')")


@pytest.mark.parametrize("deferrable", [True, False], ids=["lock wait in the triggerer", "reschedule mode"])
def test_fileload_run_passes_its_partition_and_frees_it(partition_a, dag_runner, slack_webhook, deferrable):
    dags, outcomes, record_dir, lock_dir = partition_a
    take = dags["pup_fileload__a"].get_task("take_run_lock")
    take.deferrable, take.mode = deferrable, "poke" if deferrable else "reschedule"

    result = dag_runner(dags["pup_fileload__a"])

    assert result.state == "success"
    [record] = records(record_dir)
    assert record["env"] == {
        "PARTITION": "a", "MEMBER_REPOSITORY_DB": "member_repository_a", "OUTCOMES_IDENTIFICATION_DB": outcomes.name,
        "POLICY_IDS": "1,2,3", "DB_HOST": "127.0.0.1", "DB_PORT": "5432", "DB_USER": "postgres",
        "STORAGE_VOLUME": "vol_a", "PIPELINE_DAG_ID": "pup_fileload__a", "PIPELINE_RUN_ID": result.run_id,
        "PIPELINE_STEP": "fileload", "PUP_FILELOAD_LOCKFILE": str(lock_dir / "pup_fileload.a.lock"),
    }
    assert record["password_sha256"] == hashlib.sha256(PASSWORD.encode()).hexdigest()
    assert PASSWORD not in json.dumps(record["argv"])
    assert str(lock_dir / "pup_fileload.a.lock") in record["argv"]
    assert lock_rows(outcomes) == (0, 0)
    assert slack_webhook.messages == []


def test_a_run_waits_in_the_triggerer_until_the_other_run_releases_the_partition(partition_a, dag_runner,
                                                                                  slack_webhook):
    """dag.test() runs a deferred task's trigger in line, as the triggerer does: the setup defers while
    another run holds partition a, and the program starts only after that run released it."""
    dags, outcomes, record_dir, _ = partition_a
    waiting = dags["pup_fileload__a"]
    waiting.get_task("take_run_lock").timeout = 120  # a trigger that never fires fails the test, no hang
    with outcomes.connect() as conn:
        conn.execute(read_sql("postgres/fileload_insight/lock_tables.sql"))
        conn.execute("INSERT INTO partition_run_lock VALUES ('a', 'gr_insight__a', 'other_run', now())")
    released_at: list[float] = []

    def other_run_ends() -> None:
        time.sleep(3)
        released_at.append(time.time())
        outcomes.scalar("DELETE FROM partition_run_lock RETURNING 1")

    other = threading.Thread(target=other_run_ends)
    other.start()
    try:
        result = dag_runner(waiting)
    finally:
        other.join()

    assert result.state == "success"
    [record] = records(record_dir)
    assert record["start"] >= released_at[0]
    assert lock_rows(outcomes) == (0, 0)
    assert slack_webhook.messages == []


def test_failed_insight_step_still_clears_the_flag_and_alerts(partition_a, dag_runner, slack_webhook):
    dags, outcomes, record_dir, _ = partition_a
    (record_dir / "fail_insight_a_run_insight").touch()

    result = dag_runner(dags["gr_insight__a"])

    assert result.state == "failed"
    assert result.state_of("take_run_lock") == "success"
    assert result.state_of("insight_run_insight") == "failed"
    assert result.state_of("insight_push_policies") == "upstream_failed"
    assert result.state_of("release_run_lock") == "success"
    assert lock_rows(outcomes) == (0, 0)
    alerts = slack_webhook.texts()
    assert any("Task failed: gr_insight__a.insight_run_insight" in text and "exited with code 3" in text
               for text in alerts), alerts
    assert not any(PASSWORD in text for text in alerts)


def test_a_failed_step_alert_names_the_program_and_the_log_but_carries_none_of_its_output(
        partition_a, dag_runner, slack_webhook):
    dags, _, record_dir, _ = partition_a
    (record_dir / "fail_insight_a_run_insight").touch()

    assert dag_runner(dags["gr_insight__a"]).state == "failed"

    [alert] = [m for m in slack_webhook.messages if m["text"].startswith("Task failed: gr_insight__a.")]
    assert "Task failed: gr_insight__a.insight_run_insight" in alert["text"]
    assert "CommandFailed: run_insight[a] exited with code 3; its output is in the task log" in alert["text"]
    payloads = json.dumps(slack_webhook.messages)  # text and blocks of every message Slack got
    for printed in (MEMBER_LINE, "M-0042", "Jane Roe", "simulated failure", "last stderr lines"):
        assert printed not in payloads


def test_a_setup_that_fails_after_taking_the_lock_releases_it_for_the_next_run(partition_a, dag_runner,
                                                                              slack_webhook):
    dags, outcomes, record_dir, lock_dir = partition_a
    crashing = dags["gr_insight__a"]
    take = crashing.get_task("take_run_lock")
    held_when_it_failed = []

    def worker_lost(context):
        """As if the worker died right after the lock was committed, on every try."""
        held_when_it_failed.append(lock_rows(outcomes))
        raise RuntimeError("worker lost after taking the run lock")

    take.post_execute = worker_lost

    failed = dag_runner(crashing)

    assert failed.state == "failed"
    assert failed.state_of("take_run_lock") == "failed"
    assert held_when_it_failed == [(1, 1), (1, 1)]  # both tries took the lock and the flag, then died
    assert failed.state_of("insight_run_insight") == "upstream_failed"
    assert records(record_dir) == []
    assert lock_rows(outcomes) == (0, 0)  # released by the setup's own failure, not by a teardown
    assert any("Task failed: gr_insight__a.take_run_lock" in text for text in slack_webhook.texts())

    next_run = dag_runner(partition_a_dags(outcomes.name, record_dir, lock_dir)["gr_insight__a"])  # no force_unlock

    assert next_run.state == "success"
    assert next_run.state_of("take_run_lock") == "success"
    assert len(records(record_dir)) == 2
    assert lock_rows(outcomes) == (0, 0)


def test_force_unlock_takes_a_stale_flag_over_without_asking_and_alerts(partition_a, dag_runner, slack_webhook):
    """A stale holder without force_unlock parks the task for a human decision (the e2e tests answer it: a
    dag.test() run cannot); with force_unlock the run clears the stale flag at once and says so."""
    dags, outcomes, record_dir, _ = partition_a
    plant_stale_flag(outcomes)

    forced = dag_runner(dags["gr_insight__a"], {"force_unlock": True})

    assert forced.state == "success"
    assert len(records(record_dir)) == 2
    assert lock_rows(outcomes) == (0, 0)
    cleared = [m["text"] for m in slack_webhook.messages if "cleared with force_unlock" in m["text"]]
    assert len(cleared) == 1
    assert "crashed_run" in cleared[0]


def test_fileload_refuses_to_start_while_its_lockfile_is_held(partition_a, dag_runner, slack_webhook):
    dags, outcomes, record_dir, lock_dir = partition_a
    lock_dir.mkdir()
    lockfile = lock_dir / "pup_fileload.a.lock"
    holder = subprocess.Popen([sys.executable, str(STANDIN), "--record-dir", str(lock_dir), "--label", "manual",
                               "--sleep", "60", "--lockfile", str(lockfile)])
    try:
        deadline = time.monotonic() + 20
        while not lockfile.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

        result = dag_runner(dags["pup_fileload__a"])
    finally:
        holder.kill()
        holder.wait()

    assert result.state == "failed"
    assert result.state_of("fileload") == "failed"
    assert result.state_of("release_run_lock") == "success"
    assert records(record_dir) == []
    assert lock_rows(outcomes) == (0, 0)
    assert any(f"pup_fileload.a.lock is held by process {holder.pid}" in text for text in slack_webhook.texts())


def test_a_missing_partition_connection_fails_the_run_at_once(tmp_path, database_factory, dag_runner,
                                                              slack_webhook):
    outcomes = database_factory("postgres")
    config = load_partitions(partitions_document(
        {"a": partition_entry("a", "fli_it_undefined", outcomes.name, tmp_path, [1])}, tmp_path / "locks"))

    result = dag_runner(build_dags(config)["pup_fileload__a"])

    assert result.state == "failed"
    assert result.state_of("take_run_lock") == "failed"
    assert result.try_number("take_run_lock") == 1  # retries=1, not used
    assert result.state_of("fileload") == "upstream_failed"
    assert records(tmp_path) == []
    [alert] = [text for text in slack_webhook.texts() if text.startswith("Task failed")]
    assert "connection 'fli_it_undefined' is not defined" in alert

