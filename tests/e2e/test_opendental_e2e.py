"""``opendental_nightly`` under a real scheduler, asserted from what Airflow's REST API, the Slack sink and the
databases report.

- Enabling the DAG during the day: the scheduler starts the latest 01:00 slot at once; that scheduled run
  ends green, every task after the gate skipped, nothing read or written, no alert. A manual run inside
  business hours without ``allow_business_hours`` is still refused: one red run, one alert.
- Backfill of one failed table: a trigger on the replica (set from outside, like a refusing constraint)
  fails ``copy_table [definition]`` in its extract; the runbook's REST commands clear that instance with its
  downstream; only that table and the summary run again, and every stage's counts equal the source. When
  its load failed instead, the cleared table resumes at its load: its extract is not repeated.
- A run that failed before its fan-out (``plan`` refused a table the source did not have yet): naming the
  never-expanded mapped task answers HTTP 500; the runbook's before-the-fan-out commands clear ``plan`` by its
  id with its downstream, and once the table exists the same run copies it.

The cluster's zone is a fixed offset where it is now about noon (the schedule and business hours are the
production ones), so "during the day" holds whenever the test runs. Scheduled runs cannot be made by
``dag.test()`` (it makes manual runs only).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pendulum
import pytest

from devtools.opendental import generator
from pipelines.common.paths import INCLUDE_DIR_ENV
from tests.e2e.runbook import BEFORE_FAN_OUT_SECTION, OPENDENTAL_SECTION, run_rerun_commands, trigger_with_conf
from tests.integration.opendental.odsupport import differences, fixture_ddl, include_with, make_stack, seed
from tests.support.airflow_cluster import ClusterError, airflow_cluster
from tests.support.services import conn_env_name, slack_sink

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
DAG_ID = "opendental_nightly"
DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / f"{DAG_ID}.py"
# Planned in this order (core tables first, by priority, then the rest): definition is map index 2.
TABLES = ["patient", "procedurelog", "definition"]
FAILING, FAILING_INDEX = "definition", 2
ROWS, NEW_DEFINITIONS = 60, 4
RUN = {"tables": TABLES, "allow_business_hours": True, "parallel": 2, "force": False, "dry_run": False}
REFUSE = "test_refuse_insert"
LATE_TABLE = "appointment"  # not at the source when the run starts
TABLE_TASK = "copy_table"


def noon_zone() -> str:
    """A fixed-offset zone (``Etc/GMT-5`` is UTC+5) in which the local time is now 12:xx."""
    offset = 12 - datetime.now(UTC).hour
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


@pytest.fixture(scope="module")
def slack():
    with slack_sink() as sink:
        yield sink


@pytest.fixture(scope="module")
def od(tmp_path_factory, database_factory, slack):
    """The databases, and a cluster whose DAG is enabled at once (so its scheduler starts the latest slot)."""
    root = tmp_path_factory.mktemp("od_e2e")
    zone = noon_zone()
    include = include_with(root, schedule={"timezone": zone}, stages={"retries": 1, "retry_delay_minutes": 0})
    stack = make_stack(database_factory, lambda *_: None)
    seed(stack.source, fixture_ddl(TABLES), rows=ROWS)
    dags = root / "dags"
    dags.mkdir()
    (dags / DAG_FILE.name).symlink_to(DAG_FILE)
    env = {
        INCLUDE_DIR_ENV: str(include),
        conn_env_name("slack_alerts"): slack.airflow_conn(),
        **stack.connections_env(),
    }
    with airflow_cluster(dags, root / "home", env=env) as cluster:
        cluster.wait_for_dags([DAG_ID])
        yield cluster, stack, zone


def instances(cluster, run_id: str) -> dict[tuple[str, int], dict]:
    return {(ti["task_id"], ti["map_index"]): ti for ti in cluster.task_instances(DAG_ID, run_id)}


def replica_tables(stack) -> int:
    return stack.replica.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")


def test_enabling_the_dag_during_the_day_skips_the_past_slot_without_an_alert(od, slack):
    cluster, stack, zone = od

    run = cluster.wait_for_first_run(DAG_ID)

    assert run["state"] == "success"
    assert pendulum.parse(run["run_after"]).in_timezone(zone).strftime("%H:%M") == "01:00"  # the nightly slot
    states = {key: ti["state"] for key, ti in instances(cluster, run["dag_run_id"]).items()}
    assert states.pop(("business_hours_gate", -1)) == "success"
    assert set(states.values()) == {"skipped"}, states
    assert {task for task, _ in states} == {"test_connections", "plan", TABLE_TASK, "summary"}
    gate_log = cluster.task_log(DAG_ID, run["dag_run_id"], "business_hours_gate")
    assert gate_log.count("skipped: the scheduled run for the") == 1, gate_log[-2000:]
    assert "trigger the DAG by hand" in gate_log
    assert slack.messages == []
    assert replica_tables(stack) == 0  # nothing was copied, not even the state table
    assert stack.pg_rows("SELECT tablename FROM pg_tables WHERE schemaname IN ('raw', 'public')") == []

    # A manual run in business hours without the override is refused once: red, one alert, no retry.
    alerts_before = len(slack.messages)
    refused = cluster.trigger(DAG_ID, conf={**RUN, "allow_business_hours": False})
    assert cluster.wait_for_runs([(DAG_ID, refused)]) == {(DAG_ID, refused): "failed"}
    refused_tis = instances(cluster, refused)
    assert refused_tis[("business_hours_gate", -1)]["state"] == "failed"
    assert refused_tis[("business_hours_gate", -1)]["try_number"] == 1
    assert refused_tis[("test_connections", -1)]["state"] == "upstream_failed"
    texts = [message["text"] for message in slack.messages[alerts_before:]]
    assert len(texts) == 1, texts
    assert texts[0].startswith("Task failed: opendental_nightly.business_hours_gate")
    assert "refusing to read the production source" in texts[0]
    assert replica_tables(stack) == 0


def refuse_inserts(stack, table: str) -> None:
    """The replica refuses every new row of ``table`` (as a constraint or a full disk would), from outside."""
    with stack.replica.connect() as conn:
        conn.cursor().execute(f"CREATE TRIGGER `{REFUSE}` BEFORE INSERT ON `{table}` FOR EACH ROW "
                              "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'row refused by the test'")


def allow_inserts(stack) -> None:
    with stack.replica.connect() as conn:
        conn.cursor().execute(f"DROP TRIGGER IF EXISTS `{REFUSE}`")


def clear_by_runbook_and_rerun(cluster, slack, run_id: str, failed: list[tuple[str, int]]) -> None:
    """The failed run's ``failed`` instances (every other one succeeded) are cleared by the runbook's REST
    commands; the run ends green, those instances ran once more and every other one kept its try and state."""
    before = instances(cluster, run_id)
    assert before[(TABLE_TASK, FAILING_INDEX)]["rendered_map_index"] == FAILING
    assert sorted(key for key, ti in before.items() if ti["state"] in ("failed", "upstream_failed")) == failed
    others = {key: ti["state"] for key, ti in before.items() if key not in failed}
    assert others == dict.fromkeys(others, "success")  # the other tables finished: one failure stops one table
    alerts_after_failure = len(slack.messages)

    printed = run_rerun_commands(OPENDENTAL_SECTION, cluster.base_url, run_id)
    assert f'["{failed[0][0]}",{FAILING_INDEX},"{FAILING}"]' in printed[:-1], printed  # the listing names the table
    assert sorted(map(tuple, json.loads(printed[-1]))) == failed  # cleared: that table's failed stages, the summary
    assert cluster.wait_for_runs([(DAG_ID, run_id)]) == {(DAG_ID, run_id): "success"}

    after = instances(cluster, run_id)
    reran = {key for key in after if after[key]["try_number"] != before[key]["try_number"]}
    assert sorted(reran) == failed  # no other table ran again, nor the table's stages that had succeeded
    assert all(after[key]["try_number"] == before[key]["try_number"] + 1 for key in reran)
    assert {key: ti["state"] for key, ti in after.items()} == dict.fromkeys(after, "success")
    assert len(slack.messages) == alerts_after_failure  # the rerun alerted nothing


def assert_every_stage_matches_the_source(stack, run_id: str, expected: dict[str, int]) -> None:
    recorded = stack.mysql_rows(stack.replica, "SELECT table_name, ok, source_rows, replica_rows, raw_rows, "
                                "public_rows FROM etl_run_validation WHERE run_id = %s ORDER BY table_name",
                                [run_id])
    assert recorded == sorted((table, 1, *[rows] * 4) for table, rows in expected.items())
    for table, rows in expected.items():
        assert stack.counts(table) == dict.fromkeys(("source", "replica", "raw", "public"), rows), table
        assert differences(stack, table) == []


def test_one_failed_table_is_rerun_alone_with_its_downstream(od, slack):
    cluster, stack, _ = od
    cluster.wait_for_first_run(DAG_ID)  # it goes ahead of manual runs (max_active_runs=1) and skips
    first = trigger_with_conf(cluster.base_url, DAG_ID, RUN)  # the runbook's REST trigger, as written
    assert cluster.wait_for_runs([(DAG_ID, first)]) == {(DAG_ID, first): "success"}
    with stack.source.connect() as conn:
        generator.fill_table(conn, FAILING, NEW_DEFINITIONS, seed=99)  # the night's new rows

    refuse_inserts(stack, FAILING)
    try:
        run_id = cluster.trigger(DAG_ID, conf=RUN)
        assert cluster.wait_for_runs([(DAG_ID, run_id)]) == {(DAG_ID, run_id): "failed"}
    finally:
        allow_inserts(stack)
    clear_by_runbook_and_rerun(cluster, slack, run_id, [(TABLE_TASK, FAILING_INDEX), ("summary", -1)])

    expected = {"patient": ROWS, "procedurelog": ROWS, "definition": ROWS + NEW_DEFINITIONS}
    assert_every_stage_matches_the_source(stack, run_id, expected)


def refuse_raw_inserts(stack, table: str) -> None:
    """PostgreSQL ``raw.<table>`` refuses every new row (as a full disk or a constraint would), from outside."""
    with stack.analytics.connect() as conn:
        conn.execute(f"CREATE FUNCTION raw.{REFUSE}() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN RAISE EXCEPTION 'row refused by the test'; END $$")
        conn.execute(f"CREATE TRIGGER {REFUSE} BEFORE INSERT ON raw.{table} FOR EACH ROW "
                     f"EXECUTE FUNCTION raw.{REFUSE}()")


def allow_raw_inserts(stack, table: str) -> None:
    with stack.analytics.connect() as conn:
        conn.execute(f"DROP TRIGGER IF EXISTS {REFUSE} ON raw.{table}")
        conn.execute(f"DROP FUNCTION IF EXISTS raw.{REFUSE}()")


def test_a_table_whose_load_failed_is_cleared_alone_by_the_runbook(od, slack):
    """The night's new rows of one table reach the replica, but its raw target refuses them: that table's load
    fails. The runbook's commands (clear the table, only failed, with downstream) rerun that table from its
    load (its extract is not repeated) and the summary; every other table keeps its try number and state."""
    cluster, stack, _ = od
    cluster.wait_for_first_run(DAG_ID)
    settled = cluster.trigger(DAG_ID, conf=RUN)  # whatever an earlier test left: every table in step
    assert cluster.wait_for_runs([(DAG_ID, settled)]) == {(DAG_ID, settled): "success"}
    rows_before = stack.counts(FAILING)["source"]
    with stack.source.connect() as conn:
        generator.fill_table(conn, FAILING, NEW_DEFINITIONS, seed=101)

    refuse_raw_inserts(stack, FAILING)
    try:
        run_id = cluster.trigger(DAG_ID, conf=RUN)
        assert cluster.wait_for_runs([(DAG_ID, run_id)]) == {(DAG_ID, run_id): "failed"}
    finally:
        allow_raw_inserts(stack, FAILING)
    failed_try = cluster.task_log(DAG_ID, run_id, TABLE_TASK, map_index=FAILING_INDEX)
    assert f"load of table {FAILING} failed" in failed_try, failed_try[-2000:]

    clear_by_runbook_and_rerun(cluster, slack, run_id, [(TABLE_TASK, FAILING_INDEX), ("summary", -1)])

    resumed = cluster.task_log(DAG_ID, run_id, TABLE_TASK, map_index=FAILING_INDEX, try_number=2)
    assert f"extract of table {FAILING}: finished earlier in this run, not repeated" in resumed, resumed[-3000:]
    assert f"load of table {FAILING}: finished earlier" not in resumed

    assert_every_stage_matches_the_source(stack, run_id, {
        "patient": ROWS, "procedurelog": ROWS, "definition": rows_before + NEW_DEFINITIONS})


def test_a_run_that_failed_before_its_fan_out_is_rerun_by_clearing_the_failed_task(od, slack):
    """``plan`` refuses a table the source does not have yet: the mapped tables never expand. Clearing the
    unexpanded ``[copy_table, -1]`` answers HTTP 500 (Airflow 3.3.2 cannot count its instances); the runbook's
    commands clear ``plan`` by its id alone with its downstream, and once the table exists the run copies it."""
    cluster, stack, _ = od
    cluster.wait_for_first_run(DAG_ID)
    run_id = cluster.trigger(DAG_ID, conf={**RUN, "tables": [LATE_TABLE]})
    assert cluster.wait_for_runs([(DAG_ID, run_id)]) == {(DAG_ID, run_id): "failed"}
    before = {key: ti["state"] for key, ti in instances(cluster, run_id).items()}
    assert before[("plan", -1)] == "failed"
    assert before[(TABLE_TASK, -1)] == "upstream_failed", before  # never expanded

    with pytest.raises(ClusterError, match="HTTP 500"):
        cluster.api("POST", f"dags/{DAG_ID}/clearTaskInstances", {
            "dag_run_id": run_id, "task_ids": [[TABLE_TASK, -1]], "include_downstream": True, "dry_run": True})

    seed(stack.source, fixture_ddl([LATE_TABLE]), rows=ROWS)  # the table arrives at the source
    printed = run_rerun_commands(BEFORE_FAN_OUT_SECTION, cluster.base_url, run_id, DAG_ID=DAG_ID, TASK_ID="plan")
    assert '["plan",-1]' in printed[:-1], printed  # the listing names the failed task
    cleared = {tuple(key) for key in json.loads(printed[-1])}
    assert {("plan", -1), (TABLE_TASK, -1)} <= cleared, cleared
    assert cluster.wait_for_runs([(DAG_ID, run_id)]) == {(DAG_ID, run_id): "success"}

    after = instances(cluster, run_id)
    assert after[("plan", -1)]["try_number"] == 2
    assert after[(TABLE_TASK, 0)]["rendered_map_index"] == LATE_TABLE  # expanded by the rerun
    assert stack.counts(LATE_TABLE) == dict.fromkeys(("source", "replica", "raw", "public"), ROWS)
