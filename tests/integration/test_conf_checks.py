"""A typo in a run's conf cannot run the widest job: in every DAG, a conf key the DAG does not declare
fails the run in its first task, at once (try 1, no retry), before any work, with one alert that names the
unknown key, the likely intended one and the valid keys."""

from __future__ import annotations

import json

import pytest

from devtools.localdb import free_port
from tests.support.airflow_env import load_dags

pytestmark = pytest.mark.integration
DAG_IDS = sorted(load_dags())
NOT_RUN = {"upstream_failed", "skipped", None}


@pytest.fixture(scope="module")
def dags(airflow_db):
    return load_dags()


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_unknown_conf_key_fails_the_first_task_without_retry_and_runs_nothing(dag_id, dags, dag_runner,
                                                                               slack_webhook):
    dag = dags[dag_id]
    declared = sorted(dag.params.keys())
    typo = (declared[0][:-2] + declared[0][-1] + declared[0][-2]) if declared and len(declared[0]) > 2 else "wrokers"

    result = dag_runner(dag, {typo: 1})

    assert result.state == "failed"
    failed = sorted(task for (task, _), state in result.task_states.items() if state == "failed")
    assert failed, result.task_states
    # Only first tasks fail, and closing tasks that run whatever happened (they only keep the run red).
    assert all(dag.get_task(task).upstream_task_ids == set() or dag.get_task(task).trigger_rule == "all_done"
               for task in failed), failed
    assert {state for state in result.task_states.values()} <= NOT_RUN | {"failed"}, result.task_states
    assert len(slack_webhook.messages) == 1, slack_webhook.texts()  # however many first tasks refused it
    text = slack_webhook.texts()[0]
    assert f"unknown conf key '{typo}'" in text
    assert "Try: 1" in text
    if declared:
        assert f"did you mean '{declared[0]}'?" in text
        assert f"valid keys: {', '.join(declared)}" in text
    else:
        assert "this DAG takes no conf" in text


@pytest.mark.parametrize("dag_id", ["appxml_staging", "appxml_mapping"])
def test_a_bad_remainder_is_refused_before_the_source_is_opened(dag_id, dags, dag_runner, slack_webhook,
                                                                set_connection):
    # Opening this connection would fail with a refused connection instead of the refusal below.
    set_connection("mssql_appxml", json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": free_port(),
                                               "login": "sa", "schema": "x"}))

    result = dag_runner(dags[dag_id], {"workers": 4, "remainders": [5]})

    assert result.state_of("plan") == "failed"
    assert result.try_number("plan") == 1
    [text] = slack_webhook.texts()
    assert "remainders [5] lie outside 0..3 for workers=4" in text
