"""Under a real scheduler (dag.test() cannot clear one mapped instance of a run): a partition that failed
mid-way is rerun by clearing just its mapped task instance; only that remainder runs again, its setup and
teardown around it, and the staged result is exactly once. The failure comes from outside the package:
a trigger on the staging table refuses one app_id of rem=1's third batch, and is dropped before the clear."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devtools.appxml import seed
from pipelines.appxml import ddl
from pipelines.appxml.engines import CONN_ID
from pipelines.appxml.tables import TableName
from tests.support.airflow_cluster import airflow_cluster
from tests.support.appxml_checks import first_staged_id_of_batch, staging_refuses
from tests.support.services import conn_env_name

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
DAG_ID = "appxml_staging"
DAG_FILE = Path(__file__).resolve().parents[3] / "dags" / "appxml_staging.py"
RUN = {"workers": 4, "batch": 5, "limit": 0, "remainders": None, "drop_index": True, "recreate_index": True}


def mapped_states(cluster, run_id: str) -> dict[int, str]:
    instances = cluster.api("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/stage_partition/listMapped")
    return {ti["map_index"]: ti["state"] for ti in instances["task_instances"]}


def wait_for_scheduled_run(cluster) -> str:
    """The nightly run the scheduler starts for the latest cron point as soon as the DAG appears."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = cluster.api("GET", f"dags/{DAG_ID}/dagRuns")["dag_runs"]
        scheduled = [run for run in runs if run["run_type"] == "scheduled"]
        if scheduled and scheduled[0]["state"] in ("success", "failed"):
            return scheduled[0]["state"]
        time.sleep(1)
    raise AssertionError("no scheduled run finished within 120 s")


def test_clearing_one_failed_partition_reruns_only_that_remainder(appxml_db, tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / DAG_FILE.name).symlink_to(DAG_FILE)
    env = {conn_env_name(CONN_ID): appxml_db.db.airflow_conn()}
    empty_source = seed.create_source_table(appxml_db.engine)
    rem1_source = sorted(doc.app_id for doc in appxml_db.docs if doc.app_id % 4 == 1)
    third_batch_id = first_staged_id_of_batch(rem1_source, {d.app_id for d in appxml_db.docs if d.has_custdata},
                                              batch=RUN["batch"], number=3)
    with airflow_cluster(dags, tmp_path / "home", env=env) as cluster:
        cluster.wait_for_dags([DAG_ID])
        # The nightly run for the latest cron point starts at once; on an empty source it stages nothing.
        assert wait_for_scheduled_run(cluster) == "success"
        seed.load_source(appxml_db.engine, empty_source,
                         ((doc.app_id, seed.as_text(doc.body)) for doc in appxml_db.docs))

        ddl.ensure_staging_table(appxml_db.engine, TableName("dbo", "app_xml_staging"))
        with staging_refuses(appxml_db.engine, third_batch_id):
            run_id = cluster.trigger(DAG_ID, conf=RUN)
            assert cluster.wait_for_runs([(DAG_ID, run_id)], timeout=240) == {(DAG_ID, run_id): "failed"}
        assert mapped_states(cluster, run_id) == {0: "success", 1: "failed", 2: "success", 3: "success"}
        staged_elsewhere = {rem: appxml_db.staged_ids(4, rem) for rem in (0, 2, 3)}

        cluster.api("POST", f"dags/{DAG_ID}/clearTaskInstances", {
            "dry_run": False, "only_failed": True, "dag_run_id": run_id,
            "task_ids": [["stage_partition", 1]], "include_downstream": True})
        assert cluster.wait_for_runs([(DAG_ID, run_id)], timeout=240) == {(DAG_ID, run_id): "success"}

        tries = {ti["map_index"]: ti["try_number"] for ti in cluster.api(
            "GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/stage_partition/listMapped")["task_instances"]}
        assert tries == {0: 1, 1: 2, 2: 1, 3: 1}  # only rem=1/4 ran again
        assert cluster.task_states(DAG_ID, run_id)["summary"] == "success"
    assert {rem: appxml_db.staged_ids(4, rem) for rem in (0, 2, 3)} == staged_elsewhere
    staged = appxml_db.staged()
    assert sorted(staged) == sorted(appxml_db.expected())
