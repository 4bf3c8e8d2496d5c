"""The appxml_staging DAG under dag.test() on real PostgreSQL (standing in for SQL Server): 4 mapped
partitions, rerun without duplicates, a partition failing mid-way and rerun exactly once, bad params.

Failures are injected from outside the package: a trigger on the staging table refuses one app_id."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from pipelines.appxml import ddl
from pipelines.common.database.tables import TableName
from tests.support.appxml_checks import custdata_c14n, first_staged_id_of_batch, index_exists, staging_refuses
from tests.support.readme import RUNBOOK, code_block

pytestmark = pytest.mark.integration
DAG_ID = "appxml_staging"
# Every param on every run: dag.test() keeps a previous run's conf values in the DAG's params.
RUN = {"workers": 4, "batch": 5, "limit": 0, "remainders": None, "drop_index": True, "recreate_index": True}
STAGING = TableName("dbo", "app_xml_staging")
#: The alert the runbook shows ("What an alert looks like"): this test's failure, as posted.
RUNBOOK_ALERT = json.loads(code_block("## What an alert looks like", "json", doc=RUNBOOK))
VOLATILE = [(re.compile(r"manual__[0-9T:.%A-F+-]+"), "<run id>"), (re.compile(r"app_id \d+\.\.\d+"), "app_id <ids>")]


def volatile_masked(payload: dict) -> str:
    """The payload with what differs from run to run (the run id, plain and URL-encoded; the app ids) masked."""
    text = json.dumps(payload, sort_keys=True)
    for pattern, mask in VOLATILE:
        text = pattern.sub(mask, text)
    return text


def assert_staged_exactly(appxml_db) -> None:
    staged = appxml_db.staged()
    expected = appxml_db.expected()
    assert sorted(staged) == sorted(expected)
    assert {app_id: custdata_c14n(xml) for app_id, xml in staged.items()} == expected


def test_four_partitions_stage_every_custdata_and_a_rerun_adds_nothing(appxml_db, staging_dag, dag_runner,
                                                                       slack_webhook, capfd):
    result = dag_runner(staging_dag, RUN)
    # The summary reads the partitions' results without a lookup past the last one (an error line in a green run).
    assert "XCom not found" not in capfd.readouterr().out

    assert result.state == "success", result.task_states
    assert sorted(result.rendered_map_indexes[("stage_partition", i)] for i in range(4)) == [
        "rem=0/4", "rem=1/4", "rem=2/4", "rem=3/4"]
    assert_staged_exactly(appxml_db)
    summary = result.xcom(DAG_ID, "summary")
    kinds = Counter(doc.kind for doc in appxml_db.docs)
    assert summary["processed"] == len(appxml_db.docs)
    assert summary["staged"] == kinds["ok"] + kinds["id_mismatch"]
    assert summary["skipped"] == {"malformed": kinds["malformed"], "no_custdata": kinds["no_custdata"],
                                  "empty": kinds["empty"]}
    assert summary["id_mismatch"] == kinds["id_mismatch"] > 0
    assert index_exists(appxml_db.engine, STAGING)
    assert slack_webhook.messages == []

    again = dag_runner(staging_dag, RUN)

    assert again.state == "success", again.task_states
    assert again.xcom(DAG_ID, "summary")["processed"] == 0  # each partition resumed after its last app_id
    assert_staged_exactly(appxml_db)


def test_partition_failing_after_two_batches_is_rerun_exactly_once(appxml_db, staging_dag, dag_runner,
                                                                     slack_webhook):
    rem1_source = sorted(doc.app_id for doc in appxml_db.docs if doc.app_id % 4 == 1)
    third_batch_id = first_staged_id_of_batch(rem1_source, {d.app_id for d in appxml_db.docs if d.has_custdata},
                                              batch=RUN["batch"], number=3)
    ddl.ensure_staging_table(appxml_db.engine, STAGING)

    with staging_refuses(appxml_db.engine, third_batch_id):  # rem=1's third batch is refused
        failed = dag_runner(staging_dag, RUN)

    assert failed.state == "failed"
    assert failed.states_of("stage_partition") == {0: "success", 1: "failed", 2: "success", 3: "success"}
    assert failed.state_of("recreate_index") == "success"  # the teardown ran despite the failure
    assert index_exists(appxml_db.engine, STAGING)
    # Exactly the two committed batches of rem=1 are kept (5 source rows each, in app_id order).
    committed = {doc.app_id for doc in appxml_db.docs if doc.has_custdata and doc.app_id in rem1_source[:10]}
    assert set(appxml_db.staged_ids(4, 1)) == committed
    alerts = "\n".join(slack_webhook.texts())
    assert "Task failed: appxml_staging.stage_partition [rem=1/4]" in alerts
    assert "dbo.app_xml_staging refused the batch of app_id" in alerts  # no retry: it would be refused again
    assert "<" not in alerts  # ids and labels only, never XML content
    assert [volatile_masked(message) for message in slack_webhook.messages] == [volatile_masked(RUNBOOK_ALERT)]

    # Another workers value now would resume rem=1/2 after ids that rem=3/4 staged, past rem=1/4's gap.
    refused = dag_runner(staging_dag, {**RUN, "workers": 2})

    assert refused.state == "failed"
    assert refused.state_of("plan") == "failed"
    assert refused.try_number("plan") == 1
    assert refused.state_of("ensure_staging_table") == "upstream_failed"
    refusal = slack_webhook.texts()[-1]
    assert "workers=2 refused: partitions staged with other workers have not finished (workers=4: rem=1/4)" \
        in refusal
    assert '{"workers": 4, "remainders": [1]}' in refusal
    assert set(appxml_db.staged_ids(4, 1)) == committed  # nothing written

    rerun = dag_runner(staging_dag, {**RUN, "remainders": [1]})

    assert rerun.state == "success", rerun.task_states
    assert rerun.states_of("stage_partition") == {0: "success"}
    assert rerun.rendered_map_indexes[("stage_partition", 0)] == "rem=1/4"
    assert rerun.xcom(DAG_ID, "summary")["processed"] == len(rem1_source) - 10
    assert_staged_exactly(appxml_db)

    # Every partition of workers=4 finished: another workers value is safe now, and finds nothing left.
    halved = dag_runner(staging_dag, {**RUN, "workers": 2})

    assert halved.state == "success", halved.task_states
    assert halved.xcom(DAG_ID, "summary")["processed"] == 0
    assert_staged_exactly(appxml_db)


def test_remainders_outside_the_modulus_fail_before_any_write(appxml_db, staging_dag, dag_runner, slack_webhook):
    result = dag_runner(staging_dag, {**RUN, "remainders": [1, 4]})

    assert result.state == "failed"
    assert result.state_of("plan") == "failed"
    assert result.state_of("ensure_staging_table") == "upstream_failed"
    assert "remainders [4] lie outside 0..3" in "\n".join(slack_webhook.texts())
    with appxml_db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT to_regclass('dbo.app_xml_staging')").scalar() is None


@pytest.mark.parametrize("bad", [{"workers": 0}, {"batch": -5}, {"remainders": [-1]}, {"limit": -1}])
def test_invalid_params_are_rejected_on_trigger(staging_dag, dag_runner, bad):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        dag_runner(staging_dag, {**RUN, **bad})


def test_missing_connection_fails_the_plan_with_one_line(staging_dag, dag_runner, slack_webhook, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_MSSQL_APPXML", raising=False)

    result = dag_runner(staging_dag, RUN)

    assert result.state == "failed"
    assert result.state_of("plan") == "failed"
    assert result.state_of("ensure_staging_table") == "upstream_failed"
    assert "connection 'mssql_appxml' is not defined" in "\n".join(slack_webhook.texts())
