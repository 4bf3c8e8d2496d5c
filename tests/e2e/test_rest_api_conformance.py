"""What the trigger form sends, for every DAG: ``POST /api/v2/dags/{id}/dagRuns`` on a real api-server.

- A value the param schema refuses (wrong type, out of range, not in the enum, a quoted identifier, an
  impossible date) gets HTTP 400 naming the param, and no run exists afterwards. The bad values are derived
  from each param's own schema, so a new param is covered the day it is declared.
- What only a run can check (a conf key the DAG does not declare, a table the source does not have, a
  remainder outside ``0..workers-1``) fails the run's first task at once: try 1, no retry, nothing after it.
- The documented valid conf runs, and its values reach the tasks (the plan task's result).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.appxml.config import CONN_ID as APPXML_CONN_ID
from tests.integration.appxml.conftest import load_synthetic_source
from tests.integration.opendental.odsupport import fixture_ddl, make_stack, seed
from tests.support.airflow_cluster import MANUAL_RUNS_ONLY, ClusterError, airflow_cluster
from tests.support.services import conn_env_name

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
DAGS = Path(__file__).resolve().parents[2] / "dags"


def refused_values(schema: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(what is wrong, a value) pairs that ``schema`` must refuse."""
    types = schema.get("type")
    types = set(types if isinstance(types, list) else [types])
    if "integer" in types:
        yield "wrong type", "eight"
        if "minimum" in schema:
            yield "below the minimum", schema["minimum"] - 1
        if "maximum" in schema:
            yield "above the maximum", schema["maximum"] + 1
    if "boolean" in types:
        yield "wrong type", "yes"
    if "array" in types:
        yield "wrong type", "patient"
        items = schema.get("items", {})
        if items.get("type") == "integer":
            yield "item out of range", [items.get("minimum", 0) - 1]
        if "pattern" in items:
            yield "quoted identifier", ['pat"ient']
    if "string" in types:
        if "enum" in schema:
            yield "not in the enum", "drop_everything"
        if "pattern" in schema:
            yield "quoted identifier", 'a"b'
        if "date" in (schema.get("format"), schema.get("then", {}).get("format")):
            yield "impossible date", "2026-02-30"
            yield "wrong type", 20260101


@pytest.fixture
def served(database_factory, set_connection, tmp_path):
    appxml = load_synthetic_source(database_factory("postgres"))
    stack = make_stack(database_factory, set_connection)
    seed(stack.source, fixture_ddl(["patient", "definition"]), rows=30)
    env = {
        conn_env_name(APPXML_CONN_ID): appxml.db.airflow_conn(),
        **stack.connections_env(),
        **MANUAL_RUNS_ONLY,
    }
    try:
        with airflow_cluster(DAGS, tmp_path / "home", env=env) as cluster:
            yield cluster, stack
    finally:
        appxml.engine.dispose()


def run_count(cluster, dag_id: str) -> int:
    return cluster.api("GET", f"dags/{dag_id}/dagRuns?limit=1")["total_entries"]


def xcom(cluster, dag_id: str, run_id: str, task_id: str) -> Any:
    path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value?deserialize=true"
    return cluster.api("GET", path)["value"]


def tries(cluster, dag_id: str, run_id: str) -> dict[str, tuple[str | None, int]]:
    return {ti["task_id"]: (ti["state"], ti["try_number"]) for ti in cluster.task_instances(dag_id, run_id)}


def test_every_dag_refuses_bad_conf_at_trigger_and_checks_the_rest_in_its_first_task(served):
    cluster, stack = served
    cluster.wait_for_dags(["appxml_staging", "appxml_mapping", "opendental_nightly", "flywheel_bucketed",
                           "flywheel_partitioned", "flywheel_reports", "pup_fileload__a", "gr_insight__a"])
    dags = {dag["dag_id"] for dag in cluster.api("GET", "dags?limit=1000")["dags"]}

    # 1. Refused when triggered: 400 naming the param; no run.
    refusals = 0
    for dag_id in sorted(dags):
        params = cluster.api("GET", f"dags/{dag_id}/details")["params"] or {}
        for name, spec in params.items():
            for what, value in refused_values(spec.get("schema") or {}):
                with pytest.raises(ClusterError) as refused:
                    cluster.trigger(dag_id, conf={name: value})
                assert "HTTP 400" in str(refused.value), (dag_id, name, what)
                assert name in str(refused.value), (dag_id, name, what, str(refused.value)[:300])
                refusals += 1
        assert run_count(cluster, dag_id) == 0, dag_id
    assert refusals >= 30

    # 2. Refused by the first task: at once, try 1, nothing after it ran.
    checks = [
        ("appxml_staging", {"wrokers": 4}),  # a typo must not run the default, widest job
        ("appxml_staging", {"workers": 4, "remainders": [5]}),
        ("appxml_mapping", {"workers": 2, "remainders": [2]}),
        ("opendental_nightly", {"tables": ["patient", "no_such_table"], "allow_business_hours": True}),
        ("flywheel_reports", {"snapshot_dt": "2026-01-01"}),  # takes no conf
    ]
    runs = {(dag_id, cluster.trigger(dag_id, conf=conf)): conf for dag_id, conf in checks}
    states = cluster.wait_for_runs(list(runs))
    assert set(states.values()) == {"failed"}, states
    for (dag_id, run_id), conf in runs.items():
        seen = tries(cluster, dag_id, run_id)
        failed = {task: try_number for task, (state, try_number) in seen.items() if state == "failed"}
        ran = {task for task, (state, _) in seen.items() if state == "success"}
        assert failed, (dag_id, conf, seen)
        assert set(failed.values()) == {1}, (dag_id, conf, seen)
        assert ran <= {"business_hours_gate"}, (dag_id, conf, seen)  # conf refused before any connection test
    assert stack.replica.scalar("SELECT COUNT(*) FROM information_schema.tables "
                                "WHERE table_schema = DATABASE() AND table_name = 'patient'") == 0
    assert run_count(cluster, "opendental_nightly") == 1  # the scheduler made no run of its own


def test_documented_valid_conf_runs_and_reaches_the_tasks(served):
    cluster, stack = served
    cluster.wait_for_dags(["appxml_staging", "opendental_nightly"])
    staging_conf = {"workers": 2, "batch": 7, "limit": 3, "remainders": [1], "drop_index": False,
                    "recreate_index": True}
    od_conf = {"tables": ["patient"], "force": False, "dry_run": True, "parallel": 1, "allow_business_hours": True}
    runs = [("appxml_staging", cluster.trigger("appxml_staging", conf=staging_conf)),
            ("opendental_nightly", cluster.trigger("opendental_nightly", conf=od_conf))]
    states = cluster.wait_for_runs(runs)
    assert set(states.values()) == {"success"}, {run: tries(cluster, *run) for run in runs}

    (_, staging_run), (_, od_run) = runs
    assert xcom(cluster, "appxml_staging", staging_run, "plan") == [{"mod": 2, "rem": 1, "batch": 7, "limit": 3}]
    assert cluster.api("GET", f"dags/appxml_staging/dagRuns/{staging_run}")["conf"] == staging_conf
    # A dry run logs its plan and returns none: nothing runs after it, nothing changes anywhere.
    assert xcom(cluster, "opendental_nightly", od_run, "plan") == []
    plan_log = cluster.task_log("opendental_nightly", od_run, "plan")
    assert "plan (1 tables, parallel 1)" in plan_log
    assert "patient" in plan_log
    assert stack.replica.scalar("SELECT COUNT(*) FROM information_schema.tables "
                                "WHERE table_schema = DATABASE() AND table_name = 'patient'") == 0
