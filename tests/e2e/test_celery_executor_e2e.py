"""The DAGs run unchanged on Airflow's CeleryExecutor: a real scheduler, dag-processor and api-server, the
local Redis as broker and two ``airflow celery worker`` processes. ``appxml_staging`` with 4 remainders and
an ``opendental_nightly`` run end with the rows the LocalExecutor tests assert, and the task instances
Airflow reports were executed by both workers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pipelines.appxml.config import CONN_ID as APPXML_CONN_ID
from tests.integration.appxml.conftest import load_synthetic_source
from tests.integration.appxml.test_appxml_dag import assert_staged_exactly
from tests.integration.opendental.odsupport import differences, fixture_ddl, make_stack, seed
from tests.support.airflow_cluster import MANUAL_RUNS_ONLY, airflow_cluster
from tests.support.services import conn_env_name

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
DAGS = Path(__file__).resolve().parents[2] / "dags"
APPXML_RUN = {"workers": 4, "batch": 10, "limit": 0, "remainders": None, "drop_index": True,
              "recreate_index": True}
OD_TABLES = ["patient", "procedurelog", "definition"]
OD_RUN = {"tables": OD_TABLES, "allow_business_hours": True, "parallel": 2, "force": False, "dry_run": False}


def test_appxml_and_opendental_run_unchanged_on_two_celery_workers(database_factory, set_connection, tmp_path):
    appxml = load_synthetic_source(database_factory("postgres"))
    stack = make_stack(database_factory, set_connection)
    seed(stack.source, fixture_ddl(OD_TABLES), rows=120)
    dags = tmp_path / "dags"
    dags.mkdir()
    for name in ("appxml_staging.py", "opendental_nightly.py"):
        (dags / name).symlink_to(DAGS / name)
    env = {
        conn_env_name(APPXML_CONN_ID): appxml.db.airflow_conn(),
        **stack.connections_env(),
        **MANUAL_RUNS_ONLY,  # a scheduled run would queue ahead of them (max_active_runs=1)
    }
    try:
        with airflow_cluster(dags, tmp_path / "home", env=env, celery_workers=2,
                             components=("api-server", "scheduler", "dag-processor")) as cluster:
            cluster.wait_for_dags(["appxml_staging", "opendental_nightly"])
            runs = [("appxml_staging", cluster.trigger("appxml_staging", conf=APPXML_RUN)),
                    ("opendental_nightly", cluster.trigger("opendental_nightly", conf=OD_RUN))]
            states = cluster.wait_for_runs(runs)
            instances = {dag_id: cluster.task_instances(dag_id, run_id) for dag_id, run_id in runs}
            assert states == dict.fromkeys(runs, "success"), {
                dag_id: {(ti["task_id"], ti["map_index"]): ti["state"] for ti in tis}
                for dag_id, tis in instances.items()}
    finally:
        appxml.engine.dispose()

    ran_on = Counter(ti["hostname"] for tis in instances.values() for ti in tis if ti["state"] == "success")
    assert set(ran_on) == {"celery-worker-1", "celery-worker-2"}, ran_on
    staged_partitions = [ti for ti in instances["appxml_staging"] if ti["task_id"] == "stage_partition"]
    assert sorted(ti["rendered_map_index"] for ti in staged_partitions) == [f"rem={r}/4" for r in range(4)]

    # The same outcome the LocalExecutor tests assert: every CustData staged once, every table copied.
    assert_staged_exactly(appxml)
    for table in OD_TABLES:
        assert stack.counts(table) == {"source": 120, "replica": 120, "raw": 120, "public": 120}, table
        assert differences(stack, table) == []

