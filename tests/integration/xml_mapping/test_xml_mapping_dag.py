"""The appxml_mapping DAG under dag.test() on real PostgreSQL, with both products and the example contracts."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration
DAG_ID = "appxml_mapping"
RUN = {"workers": 2, "batch": 9, "limit": 0, "remainders": None, "retry_failed": False}


def test_two_partitions_map_both_products_and_a_rerun_adds_nothing(mapping_db, mapping_dag, dag_runner,
                                                                   slack_webhook, capfd):
    result = dag_runner(mapping_dag, RUN)
    assert "XCom not found" not in capfd.readouterr().out  # the summary reads the results without a miss

    assert result.state == "success", result.task_states
    assert sorted(result.rendered_map_indexes[("map_partition", i)] for i in range(2)) == ["rem=0/2", "rem=1/2"]
    summary = result.xcom(DAG_ID, "summary")
    assert (summary["processed"], summary["mapped"], summary["failed"]) == (mapping_db.documents,
                                                                              mapping_db.documents, 0)
    products = list(mapping_db.products.values())
    assert summary["rows_per_table"]["loan_terms"] == products.count("rl") > 0
    assert summary["rows_per_table"]["application_operations"] == products.count("cc") > 0
    counts = mapping_db.counts()
    assert counts["processing_log"] == counts["application"] == mapping_db.documents
    sessions = {row[0] for row in mapping_db.rows("SELECT session_id FROM migration.processing_log")}
    assert {session.rsplit(":", 1)[-1] for session in sessions} == {"rem=0/2", "rem=1/2"}
    assert slack_webhook.messages == []

    again = dag_runner(mapping_dag, RUN)

    assert again.state == "success", again.task_states
    assert again.xcom(DAG_ID, "summary")["processed"] == 0
    assert mapping_db.counts() == counts


def test_failures_are_summarised_by_stage_with_reasons(mapping_db, mapping_dag, dag_runner):
    mapping_db.stage([(99001, b"<Provenir><Request ID='99001'><CustData><x/></CustData></Request></Provenir>"),
                      (99003, b"<Provenir><Request ID='1'/></Provenir>"),
                      (99005, b"<Provenir><truncated")])

    result = dag_runner(mapping_dag, {**RUN, "remainders": [1]})

    assert result.state == "success", result.task_states
    summary = result.xcom(DAG_ID, "summary")
    assert summary["failed_by_stage"] == {"validation": 2, "parsing": 1}
    assert summary["failed_app_ids"] == [99001, 99003, 99005]
    reasons = {entry["reason"]: entry["count"] for entry in summary["top_reasons"]}
    assert reasons["validation: Request/@ID # does not match app_id #"] == 1
    assert mapping_db.scalar("SELECT COUNT(*) FROM migration.application WHERE app_id %% 2 = 0") == 0


def test_remainders_outside_the_modulus_fail_the_plan_before_any_write(mapping_db, mapping_dag, dag_runner,
                                                                      slack_webhook):
    result = dag_runner(mapping_dag, {**RUN, "remainders": [0, 3]})

    assert result.state == "failed"
    assert result.state_of("plan") == "failed"
    assert result.state_of("ensure_schema") == "upstream_failed"
    assert "remainders [3] lie outside 0..1" in "\n".join(slack_webhook.texts())
    assert mapping_db.scalar("SELECT COUNT(*) FROM migration.processing_log") == 0


def test_the_dag_is_scheduled_on_the_staging_asset(mapping_dag):
    assets = [asset.name for asset in mapping_dag.timetable.asset_condition.iter_assets()] if hasattr(
        mapping_dag.timetable.asset_condition, "iter_assets") else [str(mapping_dag.timetable.asset_condition)]
    assert any("appxml_staging" in name for name in map(str, assets))
    assert [outlet.name for outlet in mapping_dag.get_task("summary").outlets] == ["appxml_mapping"]
