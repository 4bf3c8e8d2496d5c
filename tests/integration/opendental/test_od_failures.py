"""Bad input and broken stages: each fails in the right place with a one-line message naming the table or
connection, alerts Slack without row values, and leaves everything already written in place."""

from __future__ import annotations

import json

import pytest

from devtools.localdb import free_port
from pipelines.common.paths import INCLUDE_DIR_ENV
from tests.integration.opendental.odsupport import differences, fixture_ddl, include_with, seed

pytestmark = pytest.mark.integration
BASE = {"allow_business_hours": True, "force": False, "dry_run": False, "parallel": 2, "tables": None}


def run(dag_runner, dag, **conf):
    return dag_runner(dag, {**BASE, **conf})


def alerts(sink):
    return [m["text"] for m in sink.messages if m["text"].startswith("Task failed")]


def test_a_table_whose_ddl_changed_is_rebuilt_everywhere(stack, nightly_dag, dag_runner):
    seed(stack.source, fixture_ddl(["definition", "procedurelog"]), rows=60)
    assert run(dag_runner, nightly_dag, tables=["definition", "procedurelog"]).state == "success"
    conn = stack.source.connect()
    conn.cursor().execute("ALTER TABLE definition ADD COLUMN `ItemOrderAlt` int(11) NOT NULL DEFAULT 7, "
                          "MODIFY `ItemValue` varchar(400) DEFAULT ''")
    conn.close()

    result = run(dag_runner, nightly_dag, tables=["definition", "procedurelog"])

    assert result.state == "success", result.task_states
    extracted = {v["table"]: v for v in (result.xcom("opendental_nightly", "copy_table", i) for i in range(2))}
    assert extracted["definition"]["schema_drift"] is True
    assert extracted["definition"]["mode"] == "full"
    assert extracted["procedurelog"]["schema_drift"] is False
    assert stack.replica.scalar("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                                " AND TABLE_NAME = 'definition' AND COLUMN_NAME = 'ItemOrderAlt'") == 1
    assert stack.pg_rows("SELECT DISTINCT item_order_alt FROM public.definition") == [(7,)]
    assert stack.pg_rows("SELECT character_maximum_length FROM information_schema.columns WHERE "
                         "table_schema = 'raw' AND table_name = 'definition' AND column_name = 'ItemValue'") == [(400,)]
    assert differences(stack, "definition") == []


def test_count_mismatch_fails_only_that_table_and_alerts_with_both_counts(
        stack, nightly_dag, dag_runner, slack_webhook):
    seed(stack.source, fixture_ddl(["definition", "preference"]), rows=40)
    assert run(dag_runner, nightly_dag, tables=["definition", "preference"]).state == "success"
    with stack.analytics.connect() as pg:
        pg.execute('DELETE FROM raw."definition" WHERE "DefNum" = 1')  # lost behind the pipeline's back

    result = run(dag_runner, nightly_dag, tables=["definition", "preference"])

    assert result.state == "failed"
    labels = {result.rendered_map_indexes[("copy_table", i)]: result.state_of("copy_table", i) for i in range(2)}
    assert labels == {"definition": "failed", "preference": "success"}
    texts = alerts(slack_webhook)
    # The summary still runs, logs every table's figures, and fails the run naming the unfinished table.
    assert result.state_of("summary") == "failed"
    assert any("summary" in t and "1 of 2 tables did not complete: definition" in t for t in texts), texts
    assert any("copy_table [definition]" in t and "replica=40 raw=39" in t and "Table: definition" in t
               for t in texts), texts
    recorded = stack.mysql_rows(stack.replica, "SELECT table_name, ok, replica_rows, raw_rows FROM "
                                "etl_run_validation WHERE run_id = %s ORDER BY table_name", [result.run_id])
    assert recorded == [("definition", 0, 40, 39), ("preference", 1, 40, 40)]


def closed_port(engine: str) -> str:
    """A connection to a port nothing listens on: opening it fails with a refused connection."""
    return json.dumps({"conn_type": engine, "host": "127.0.0.1", "port": free_port(), "login": "root", "schema": "x"})


def test_unreachable_source_fails_the_plan_with_the_connection_line_and_changes_nothing(
        stack, nightly_dag, dag_runner, slack_webhook, set_connection):
    set_connection("opendental_source", closed_port("mysql"))

    result = run(dag_runner, nightly_dag)

    assert result.state == "failed"
    assert result.state_of("plan") == "failed"  # the source is the first server a run reads
    assert result.state_of("test_connections") == "upstream_failed"
    assert any("connection 'opendental_source' (mysql) failed" in t for t in alerts(slack_webhook))
    assert stack.replica.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()") == 0
    assert stack.pg_rows("SELECT nspname FROM pg_namespace WHERE nspname = 'raw'") == []


def test_unknown_tables_are_rejected_with_the_valid_ones(stack, nightly_dag, dag_runner, slack_webhook):
    seed(stack.source, fixture_ddl(["definition", "payment"]), rows=5)

    result = run(dag_runner, nightly_dag, tables=["definition", "nosuchtable"])

    assert result.state_of("plan") == "failed"
    text = next(t for t in alerts(slack_webhook) if "plan" in t)
    assert "unknown tables: 'nosuchtable'; valid tables: definition, payment" in text
    assert stack.replica.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()") == 0


def test_an_unknown_table_is_refused_before_the_replica_or_analytics_is_opened(
        stack, nightly_dag, dag_runner, slack_webhook, set_connection):
    seed(stack.source, fixture_ddl(["definition", "payment"]), rows=5)
    # Opening either would fail the run with "connection ... failed" instead of the refusal below.
    set_connection("opendental_replication", closed_port("mysql"))
    set_connection("opendental_analytics", closed_port("postgres"))

    result = run(dag_runner, nightly_dag, tables=["definitoin"])

    assert result.state_of("plan") == "failed"
    assert result.try_number("plan") == 1
    assert result.state_of("test_connections") == "upstream_failed"
    texts = alerts(slack_webhook)
    assert len(texts) == 1, texts
    assert "unknown tables: 'definitoin' (did you mean 'definition'?); valid tables: definition, payment" in texts[0]


def test_malicious_table_names_never_reach_sql(stack, nightly_dag, dag_runner):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="tables"):
        run(dag_runner, nightly_dag, tables=["patient; drop table x"])


def test_business_hours_refusal(stack, tmp_path, monkeypatch, dag_runner, slack_webhook):
    always_open = include_with(tmp_path, schedule={"business_hours": {"start": "00:00", "end": "23:59"}},
                               stages={"retries": 1, "retry_delay_minutes": 0})
    monkeypatch.setenv(INCLUDE_DIR_ENV, str(always_open))
    from tests.support.airflow_env import load_dags

    dag = load_dags()["opendental_nightly"]

    refused = run(dag_runner, dag, allow_business_hours=False)

    assert refused.state == "failed"
    assert refused.state_of("business_hours_gate") == "failed"
    assert refused.state_of("test_connections") == "upstream_failed"
    assert refused.state_of("summary") == "failed"  # keeps the run red, without an alert of its own
    assert refused.try_number("business_hours_gate") == 1
    texts = [m["text"] for m in slack_webhook.messages]  # task and DAG-run alerts alike
    assert len(texts) == 1, texts
    assert texts[0].startswith("Task failed: opendental_nightly.business_hours_gate")
    assert "refusing to read the production source" in texts[0]
