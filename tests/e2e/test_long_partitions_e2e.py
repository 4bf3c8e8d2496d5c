"""A staging partition that runs for hours in production outlives many execution-API tokens: the task's
supervisor must renew its token on every heartbeat, or the task is killed mid-partition (apache/airflow#67939
under the LocalExecutor, #62218 under Celery). Here the token lives 20 s ([execution_api] jwt_expiration_time)
and one partition of a real ``appxml_staging`` run lasts more than six lifetimes (its staging inserts are slowed
by a trigger from outside the package), under the LocalExecutor and under the CeleryExecutor: the run succeeds
with every partition on try 1, and every CustData is staged exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.appxml import ddl
from pipelines.appxml.config import CONN_ID
from pipelines.common.database.tables import TableName
from tests.integration.appxml.conftest import load_synthetic_source
from tests.integration.appxml.test_appxml_dag import assert_staged_exactly
from tests.support.airflow_cluster import MANUAL_RUNS_ONLY, airflow_cluster
from tests.support.appxml_checks import staging_is_slow
from tests.support.services import conn_env_name

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
DAG_ID = "appxml_staging"
DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "appxml_staging.py"
TOKEN_SECONDS = 20
LONG_PARTITION_SECONDS = 6 * TOKEN_SECONDS
SLOW_REM = 1
RUN = {"workers": 4, "batch": 5, "limit": 0, "remainders": None, "drop_index": False, "recreate_index": True}


@pytest.mark.parametrize("celery_workers", [0, 1], ids=["local_executor", "celery_executor"])
def test_a_partition_outlives_many_execution_tokens_and_succeeds_on_try_1(database_factory, tmp_path,
                                                                          celery_workers):
    appxml_db = load_synthetic_source(database_factory("postgres"))
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / DAG_FILE.name).symlink_to(DAG_FILE)
    env = {conn_env_name(CONN_ID): appxml_db.db.airflow_conn(), **MANUAL_RUNS_ONLY,
           "AIRFLOW__EXECUTION_API__JWT_EXPIRATION_TIME": str(TOKEN_SECONDS)}
    slow_ids = [d.app_id for d in appxml_db.docs if d.has_custdata and d.app_id % RUN["workers"] == SLOW_REM]
    ddl.ensure_staging_table(appxml_db.engine, TableName("dbo", "app_xml_staging"))
    try:
        with staging_is_slow(appxml_db.engine, slow_ids, LONG_PARTITION_SECONDS / len(slow_ids)), \
                airflow_cluster(dags, tmp_path / "home", env=env, celery_workers=celery_workers) as cluster:
            cluster.wait_for_dags([DAG_ID])
            run = (DAG_ID, cluster.trigger(DAG_ID, conf=RUN))
            states = cluster.wait_for_runs([run], timeout=900)
            partitions = cluster.api(
                "GET", f"dags/{DAG_ID}/dagRuns/{run[1]}/taskInstances/stage_partition/listMapped")["task_instances"]
            assert states == {run: "success"}, cluster.diagnostics([run])
        assert_staged_exactly(appxml_db)
    finally:
        appxml_db.engine.dispose()
    assert {ti["map_index"]: (ti["state"], ti["try_number"]) for ti in partitions} == {
        rem: ("success", 1) for rem in range(RUN["workers"])}
    slow = next(ti for ti in partitions if ti["map_index"] == SLOW_REM)
    assert slow["duration"] >= LONG_PARTITION_SECONDS, slow["duration"]  # it did outlive six tokens
