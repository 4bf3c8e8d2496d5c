"""Under a real scheduler (dag.test() ignores pools): Fileload and Insight runs on one partition never
overlap, from the first step's start to the last step's end (the later run waits for the run lock in the
triggerer), while another partition runs alongside;
an Insight run that fails still clears its lock flag and releases the partition; and its failed step,
cleared through the REST API with the runbook's own command while the other partition's run is running,
reruns exactly once under the partition's run lock, taken again for the rerun. A run that meets a stale lock
asks a human (Airflow's Human-in-the-loop, answered through the REST API): approved, it takes the partition
over and succeeds; rejected or unanswered, it fails with one alert and the lock stays."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from pipelines.common.paths import INCLUDE_DIR_ENV, read_sql
from pipelines.fileload_insight.config import CONFIG_FILE, load_settings
from pipelines.fileload_insight.pools import merged_pools, render
from tests.e2e.runbook import PARTITIONS_SECTION, run_rerun_commands
from tests.fixtures.fileload_insight.partitions import (
    include_with_partitions,
    partition_entry,
    partitions_document,
    records,
    run_intervals,
)
from tests.support.airflow_cluster import COMPONENTS, airflow_cluster
from tests.support.services import Database, conn_env_name, start_slack_sink

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = PROJECT_ROOT / "dags" / "fileload_insight.py"
STEP_SECONDS = 3
PARTITION_B_SECONDS = 10  # long enough to span partition a's first run whichever program goes first
TAKEOVER_DECISION_SECONDS = 90  # how long a run asks about a stale lock before it fails


def with_password(conn_json: str) -> str:
    return json.dumps({**json.loads(conn_json), "password": "test-e2e-password"})


def lock_rows(db: Database) -> tuple[int, int]:
    return (db.scalar("SELECT count(*) FROM partition_run_lock"), db.scalar("SELECT count(*) FROM insight_lock_flag"))


def lock_holders(db: Database) -> dict[str, list[tuple[str, str]]]:
    """Who holds the partition's run lock and its Insight lock flag: (dag_id, run_id) rows."""
    with db.connect() as conn:
        return {table: [tuple(row) for row in conn.execute(f"SELECT dag_id, {holder} FROM {table}").fetchall()]
                for table, holder in (("partition_run_lock", "run_id"), ("insight_lock_flag", "holder"))}


def tries(running, dag_id: str, run_id: str) -> dict[str, int]:
    return {ti["task_id"]: ti["try_number"] for ti in running.task_instances(dag_id, run_id)}


@pytest.fixture(scope="module")
def slack():
    sink = start_slack_sink()
    yield sink
    sink.server.shutdown()
    sink.server.server_close()


@pytest.fixture(scope="module")
def setup_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fli_e2e")
    dirs = {name: root / name for name in ("records", "locks", "dags", "home")}
    for path in dirs.values():
        path.mkdir()
    # Only this family's DAG file: the cluster parses what the test needs, nothing else.
    (dirs["dags"] / DAG_FILE.name).symlink_to(DAG_FILE)
    return root, dirs


@pytest.fixture(scope="module")
def cluster(setup_dirs, database_factory, slack):
    root, dirs = setup_dirs
    outcomes = {name: database_factory("postgres") for name in ("a", "b")}
    document = partitions_document({
        "a": partition_entry("a", "fli_e2e_a", outcomes["a"].name, dirs["records"], [1, 2, 3], STEP_SECONDS),
        "b": partition_entry("b", "fli_e2e_b", outcomes["b"].name, dirs["records"], [4, 5, 6], PARTITION_B_SECONDS),
    }, dirs["locks"], takeover_decision_hours=TAKEOVER_DECISION_SECONDS / 3600)
    include = include_with_partitions(root, document)
    pools_file = root / "pools.json"
    pools_file.write_text(render(merged_pools({}, load_settings(include / "config" / CONFIG_FILE))))
    env = {
        INCLUDE_DIR_ENV: str(include),
        conn_env_name("slack_alerts"): slack.airflow_conn(),
        **{conn_env_name(f"fli_e2e_{name}"): with_password(db.airflow_conn()) for name, db in outcomes.items()},
    }
    with airflow_cluster(dirs["dags"], dirs["home"], env=env, pools_file=pools_file,
                         components=(*COMPONENTS, "triggerer")) as running:
        running.wait_for_dags(["pup_fileload__a", "gr_insight__a", "pup_fileload__b", "gr_insight__b"])
        yield running, outcomes, dirs["records"]


def test_pools_imported_from_the_partitions_file(cluster):
    running, _, _ = cluster
    pools = {pool["name"]: pool["slots"] for pool in running.api("GET", "pools")["pools"]}
    assert pools["partition_a"] == 1
    assert pools["partition_b"] == 1


def test_runs_on_one_partition_never_overlap_while_partitions_run_side_by_side(cluster):
    running, outcomes, record_dir = cluster
    dag_ids = ["pup_fileload__a", "gr_insight__a", "pup_fileload__b"]

    runs = [(dag_id, running.trigger(dag_id)) for dag_id in dag_ids]
    states = running.wait_for_runs(runs)

    assert set(states.values()) == {"success"}, {key: running.task_states(*key) for key in states}
    intervals = run_intervals(record_dir)
    fileload_a, insight_a, fileload_b = (intervals[run] for run in runs)
    assert not fileload_a.overlaps(insight_a), (fileload_a, insight_a)
    assert fileload_b.overlaps(fileload_a) or fileload_b.overlaps(insight_a), intervals
    assert {tries(running, *run)["take_run_lock"] for run in runs} == {1}  # a wait is no failed try
    insight_steps = [r for r in records(record_dir) if r["env"]["PIPELINE_RUN_ID"] == insight_a.run_id]
    assert len(insight_steps) == 2
    for record in records(record_dir):  # credentials reached every program through its environment only
        assert record["password_sha256"] == hashlib.sha256(b"test-e2e-password").hexdigest()
        assert "test-e2e-password" not in json.dumps(record["argv"])
    for name in ("a", "b"):
        assert lock_rows(outcomes[name]) == (0, 0)


def test_a_run_waits_in_the_triggerer_while_its_partition_is_held(cluster):
    running, outcomes, record_dir = cluster
    with outcomes["a"].connect() as conn:
        conn.execute(read_sql("postgres/fileload_insight/lock_tables.sql"))
        conn.execute("INSERT INTO partition_run_lock VALUES ('a', 'gr_insight__a', 'other_run', now())")
    run = ("pup_fileload__a", running.trigger("pup_fileload__a"))
    try:
        running.wait_until(lambda: running.task_states(*run).get("take_run_lock") == "deferred", 120,
                           "take_run_lock deferred", runs=[run])
        assert not [r for r in records(record_dir) if r["env"]["PIPELINE_RUN_ID"] == run[1]]
    finally:
        outcomes["a"].scalar("DELETE FROM partition_run_lock WHERE run_id = 'other_run' RETURNING 1")

    assert running.wait_for_runs([run]) == {run: "success"}
    assert tries(running, *run)["take_run_lock"] == 1
    assert "is held by gr_insight__a run other_run" in running.task_log(*run, "take_run_lock")
    assert lock_rows(outcomes["a"]) == (0, 0)


def test_failed_insight_clears_its_lock_flag_and_releases_the_partition(cluster, slack):
    running, outcomes, record_dir = cluster
    (record_dir / "fail_insight_a_push_policies").touch()
    try:
        run_id = running.trigger("gr_insight__a")
        states = running.wait_for_runs([("gr_insight__a", run_id)])
    finally:
        os.remove(record_dir / "fail_insight_a_push_policies")

    assert states[("gr_insight__a", run_id)] == "failed"
    tasks = running.task_states("gr_insight__a", run_id)
    assert tasks["insight_run_insight"] == "success"
    assert tasks["insight_push_policies"] == "failed"
    assert tasks["release_run_lock"] == "success"
    assert lock_rows(outcomes["a"]) == (0, 0)
    assert any("gr_insight__a.insight_push_policies" in text for text in slack.texts()), slack.texts()
    step_log = running.task_log("gr_insight__a", run_id, "insight_push_policies")
    assert "insight_a_push_policies: simulated failure for the test" in step_log
    assert "exited with code 3; last stderr lines" in step_log
    assert "test-e2e-password" not in step_log

    # The partition is free again: the next Fileload run on it goes through.
    next_run = running.trigger("pup_fileload__a")
    assert running.wait_for_runs([("pup_fileload__a", next_run)])[("pup_fileload__a", next_run)] \
        == "success"


def test_failed_partition_run_is_rerun_once_while_the_other_partition_runs(cluster):
    running, outcomes, record_dir = cluster
    fail = record_dir / "fail_insight_a_push_policies"
    hold = record_dir / "hold_insight_b_run_insight"
    fail.touch()
    try:
        failed_run = running.trigger("gr_insight__a")
        assert running.wait_for_runs([("gr_insight__a", failed_run)]) == {
            ("gr_insight__a", failed_run): "failed"}
    finally:
        fail.unlink()
    assert tries(running, "gr_insight__a", failed_run)["insight_push_policies"] == 2  # retries=1: both tries failed
    assert lock_rows(outcomes["a"]) == (0, 0)

    hold.touch()  # partition b's run keeps running until the rerun on a is over
    try:
        other_run = running.trigger("gr_insight__b")
        running.wait_until(
            lambda: running.task_states("gr_insight__b", other_run).get("insight_run_insight") == "running"
            and any(record_dir.glob("insight_b_run_insight.*.json")), 120, "partition b's first step running",
            runs=[("gr_insight__b", other_run)])
        cleared_at = time.time()
        # The runbook's command, as written: the failed step with "Downstream", its run lock setup and teardown.
        printed = run_rerun_commands(PARTITIONS_SECTION, running.base_url, failed_run)
        assert json.loads(printed[-1]) == ["insight_push_policies", "release_run_lock", "take_run_lock"]

        states = running.wait_for_runs([("gr_insight__a", failed_run)])

        assert states == {("gr_insight__a", failed_run): "success"}
        assert running.run_state("gr_insight__b", other_run) == "running"
        assert lock_holders(outcomes["b"]) == {"partition_run_lock": [("gr_insight__b", other_run)],
                                               "insight_lock_flag": [("gr_insight__b", other_run)]}
        assert lock_rows(outcomes["a"]) == (0, 0)
    finally:
        hold.unlink()
    assert running.wait_for_runs([("gr_insight__b", other_run)]) == {
        ("gr_insight__b", other_run): "success"}

    assert tries(running, "gr_insight__a", failed_run) == {
        "take_run_lock": 2, "insight_run_insight": 1, "insight_push_policies": 3, "release_run_lock": 2}
    steps_of_a = [r for r in records(record_dir) if r["env"]["PIPELINE_RUN_ID"] == failed_run]
    rerun = [r for r in steps_of_a if r["start"] >= cleared_at]
    assert [r["label"] for r in rerun] == ["insight_a_push_policies"]  # once, and run_insight is not redone
    assert len([r for r in steps_of_a if r["label"] == "insight_a_run_insight"]) == 1
    (other_step,) = [r for r in records(record_dir)
                     if r["env"]["PIPELINE_RUN_ID"] == other_run and r["label"] == "insight_b_run_insight"]
    assert other_step["start"] < rerun[0]["start"] < rerun[0]["end"] < other_step["end"]  # side by side
    for name in ("a", "b"):
        assert lock_rows(outcomes[name]) == (0, 0)


def plant_stale_run_lock(db: Database) -> None:
    with db.connect() as conn:
        conn.execute(read_sql("postgres/fileload_insight/lock_tables.sql"))
        conn.execute("INSERT INTO partition_run_lock VALUES ('b', 'gr_insight__b', 'crashed_run', "
                     "now() - interval '3 hours')")


def asking(running, run: tuple[str, str]) -> dict:
    """Wait until the run's take_run_lock awaits a human decision, and the scheduler has taken the parked try's
    end from the executor; its question (the REST API's hitlDetails). A person answers minutes later: an answer
    within the same second races that executor event on Airflow 3.3.2, which then fails the resumed try."""
    running.wait_until(lambda: running.task_states(*run).get("take_run_lock") == "awaiting_input", 180,
                       "take_run_lock awaiting input", runs=[run])
    finished = f"TaskInstance Finished: dag_id={run[0]}, task_id=take_run_lock, run_id={run[1]}"
    running.wait_until(lambda: finished in running.log_tail("scheduler", lines=2000), 120,
                       "the scheduler saw the parked try end", runs=[run])
    return running.api("GET", f"dags/{run[0]}/dagRuns/{run[1]}/taskInstances/take_run_lock/-1/hitlDetails")


def answer(running, run: tuple[str, str], option: str) -> None:
    running.api("PATCH", f"dags/{run[0]}/dagRuns/{run[1]}/taskInstances/take_run_lock/-1/hitlDetails",
                {"chosen_options": [option]})


def messages_about(slack, run_id: str) -> tuple[list[str], list[str]]:
    """(stale-lock notices, failure alerts) posted about one run."""
    texts = [text for text in slack.texts() if run_id in text]
    return ([t for t in texts if t.startswith("Stale lock on partition")],
            [t for t in texts if t.startswith(("Task failed", "DAG run failed"))])


@pytest.mark.parametrize("decision", ["Approve", "Reject", None], ids=["approved", "rejected", "unanswered"])
def test_a_stale_lock_is_taken_over_only_when_a_human_approves(cluster, slack, decision):
    running, outcomes, record_dir = cluster
    plant_stale_run_lock(outcomes["b"])
    run = ("pup_fileload__b", running.trigger("pup_fileload__b"))
    try:
        question = asking(running, run)
        assert question["options"] == ["Approve", "Reject"]
        assert "crashed_run" in question["body"]
        assert lock_holders(outcomes["b"])["partition_run_lock"] == [("gr_insight__b", "crashed_run")]
        if decision:
            answer(running, run, decision)
        state = running.wait_for_runs([run], timeout=TAKEOVER_DECISION_SECONDS + 300)[run]
        notices, failures = messages_about(slack, run[1])
        assert len(notices) == 1, notices
        assert "crashed_run" in notices[0]
        steps_ran = [r for r in records(record_dir) if r["env"]["PIPELINE_RUN_ID"] == run[1]]
        if decision == "Approve":
            assert state == "success"
            assert failures == []
            assert tries(running, *run) == {"take_run_lock": 1, "fileload": 1, "release_run_lock": 1}
            assert len(steps_ran) == 1
            assert lock_rows(outcomes["b"]) == (0, 0)  # taken over, then released at the end
            return
        assert state == "failed"
        assert len(failures) == 1, failures  # one alert, no retry of a decision
        assert ("rejected" if decision else "not answered") in failures[0]
        assert tries(running, *run)["take_run_lock"] == 1
        assert steps_ran == []
        assert lock_holders(outcomes["b"])["partition_run_lock"] == [("gr_insight__b", "crashed_run")]
    finally:
        outcomes["b"].scalar("DELETE FROM partition_run_lock WHERE run_id = 'crashed_run' RETURNING 1")
