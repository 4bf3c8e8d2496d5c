"""The Slack failure alerts, end to end: a mapped task fails on purpose under dag.test() and the local
webhook server receives the alert; without a connection, or with Slack answering an error, the run's
outcome is exactly the same."""

from __future__ import annotations

import pytest

from tests.fixtures.dags.alert_probe import SECRET_ROW_VALUE
from tests.support.airflow_env import TEST_DAGS_FOLDER, load_dags

pytestmark = pytest.mark.integration
EXPECTED_STATES = {0: "success", 1: "success", 2: "failed", 3: "success"}


@pytest.fixture(scope="module")
def probe_dag():
    return load_dags(TEST_DAGS_FOLDER)["alert_probe"]


def test_failed_mapped_task_posts_alert_with_label(dag_runner, slack_webhook, probe_dag):
    result = dag_runner(probe_dag)

    assert result.state == "failed"
    assert result.states_of("stage") == EXPECTED_STATES
    task_alerts = [m for m in slack_webhook.messages if m["text"].startswith("Task failed")]
    dag_alerts = [m for m in slack_webhook.messages if m["text"].startswith("DAG run failed")]
    assert len(task_alerts) == 1, slack_webhook.texts()
    text = task_alerts[0]["text"]
    assert "Task failed: alert_probe.stage [rem=2/4]" in text
    assert f"Run: {result.run_id}" in text
    assert "Try: 2" in text
    assert "Error: RuntimeError: partition 2 broke on purpose" in text
    assert "/dags/alert_probe/runs/" in text
    assert "/tasks/stage/mapped/2" in text
    assert task_alerts[0]["blocks"][0]["type"] == "header"
    assert dag_alerts == [], "the task's alert already reports this run's failure: one failure, one alert"
    assert all(SECRET_ROW_VALUE not in str(message) for message in slack_webhook.messages)


def alert_log(caplog, level: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pipelines.common.alerts" and r.levelname == level]


def test_missing_connection_leaves_failure_unchanged(dag_runner, monkeypatch, probe_dag, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_ALERTS", raising=False)

    result = dag_runner(probe_dag)

    assert result.state == "failed"
    assert result.states_of("stage") == EXPECTED_STATES
    warnings = alert_log(caplog, "WARNING")
    assert len(warnings) == 1, warnings  # the task's alert; the run's failure is that task's
    assert "'slack_alerts' is not configured" in warnings[0]
    assert "Task failed: alert_probe.stage [rem=2/4]" in warnings[0]


def test_slack_http_error_leaves_failure_unchanged(dag_runner, slack_webhook, probe_dag, caplog):
    slack_webhook.status = 500

    result = dag_runner(probe_dag)

    assert result.state == "failed"
    assert result.states_of("stage") == EXPECTED_STATES
    assert any("rem=2/4" in text for text in slack_webhook.texts())  # the post was attempted
    assert any("could not be posted" in message for message in alert_log(caplog, "ERROR"))


def test_a_run_that_fails_without_a_failed_task_still_alerts(slack_webhook):
    """A deadlock or a run timeout has no task alert: the DAG-run alert reports it."""
    from types import SimpleNamespace

    from pipelines.common.alerts import notify_dag_failure

    notify_dag_failure({"dag": SimpleNamespace(dag_id="appxml_staging"), "run_id": "manual__1",
                        "reason": "all_tasks_deadlocked"})

    assert len(slack_webhook.messages) == 1
    assert slack_webhook.texts()[0].startswith("DAG run failed: appxml_staging")
    assert "Reason: all_tasks_deadlocked" in slack_webhook.texts()[0]
