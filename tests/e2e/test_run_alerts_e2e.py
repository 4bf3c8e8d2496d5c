"""Run-level alerts under the real scheduler, dag-processor and triggerer (which awaits deadline callbacks),
into the real Slack HTTP sink: a run that times out, a run that misses its deadline and then succeeds, and a
run that fails on a task each post exactly one message, also once the deadlines of the failed runs pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.common.alerts import SLACK_CONN_ID
from tests.support.airflow_cluster import COMPONENTS, MANUAL_RUNS_ONLY, airflow_cluster, deadline
from tests.support.airflow_env import TEST_DAGS_FOLDER
from tests.support.services import slack_sink

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
PROBES = Path(TEST_DAGS_FOLDER) / "run_alert_probes.py"
TIMEOUT, LATE, TASK_FAILURE = "run_alert_timeout", "run_alert_late", "run_alert_task_failure"


def deadline_callbacks(cluster) -> list[tuple[str, bool, str | None]]:
    """Every deadline of the cluster's runs: (run id, missed, its callback's state), from the metadata DB."""
    with cluster.metadata.connect() as conn:
        return conn.execute(
            "SELECT r.run_id, d.missed, c.state FROM deadline d JOIN dag_run r ON r.id = d.dagrun_id "
            "LEFT JOIN callback c ON c.id = d.callback_id ORDER BY r.run_id").fetchall()


def messages_for(slack, dag_id: str) -> list[str]:
    return [text for text in slack.texts() if f": {dag_id}" in text.splitlines()[0]]


def test_each_run_level_failure_posts_exactly_one_message(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / PROBES.name).symlink_to(PROBES)
    with slack_sink() as slack, airflow_cluster(
            dags, tmp_path / "home", components=(*COMPONENTS, "triggerer"),
            env=MANUAL_RUNS_ONLY) as cluster:
        # Stored in the metadata DB, as in production: the worker, the dag-processor and the triggerer each
        # look it up through Airflow (an AIRFLOW_CONN_ variable would spare the triggerer that path).
        cluster.api("POST", "connections", {"connection_id": SLACK_CONN_ID, "conn_type": "slackwebhook",
                                            "password": slack.url})
        cluster.wait_for_dags([TIMEOUT, LATE, TASK_FAILURE])
        runs = {dag_id: cluster.trigger(dag_id) for dag_id in (TIMEOUT, LATE, TASK_FAILURE)}

        states = cluster.wait_for_runs(runs.items(), timeout=deadline(300))
        assert states == {(TIMEOUT, runs[TIMEOUT]): "failed", (LATE, runs[LATE]): "success",
                          (TASK_FAILURE, runs[TASK_FAILURE]): "failed"}
        # The failed runs' deadlines pass a minute after they were queued; the late run's was missed while
        # it ran. Wait until every callback the scheduler queued has finished in the triggerer.
        cluster.wait_until(lambda: (rows := deadline_callbacks(cluster)) and all(
            missed and state in ("success", "failed") for _, missed, state in rows) and len(rows) == 3,
            deadline(300), "every deadline missed and its callback done")
        assert {state for *_, state in deadline_callbacks(cluster)} == {"success"}

        timed_out, late, failed = (messages_for(slack, dag_id) for dag_id in (TIMEOUT, LATE, TASK_FAILURE))
        assert len(slack.messages) == 3, slack.texts()
        assert len(timed_out) == 1, slack.texts()
        assert timed_out[0].startswith(f"DAG run timed out: {TIMEOUT}\n")
        assert f"Run: {runs[TIMEOUT]}" in timed_out[0]
        assert "Reason: timed_out" in timed_out[0]
        assert len(late) == 1, slack.texts()
        assert late[0].startswith(f"DAG run late: {LATE}\n")
        assert f"Run: {runs[LATE]}" in late[0]
        assert "Deadline: 20" in late[0]  # an ISO timestamp
        assert len(failed) == 1, slack.texts()
        assert failed[0].startswith(f"Task failed: {TASK_FAILURE}.breaks\n")
        assert "Try: 2" in failed[0]
