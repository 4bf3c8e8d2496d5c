"""Under a real scheduler (dag.test() cannot clear one mapped instance of a run): a partition that failed
mid-way is rerun by clearing just its mapped task instance; only that remainder runs again, its setup and
teardown around it, and the staged result is exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.appxml import seed
from pipelines.appxml.engines import CONN_ID
from pipelines.appxml.pipeline import FAIL_AFTER_ENV
from tests.support.airflow_cluster import airflow_cluster
from tests.support.services import conn_env_name

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
DAG_ID = "appxml_staging"
DAG_FILE = Path(__file__).resolve().parents[3] / "dags" / "appxml_staging.py"
RUN = {"workers": 4, "batch": 5, "limit": 0, "remainders": None, "drop_index": True, "recreate_index": True}


def mapped_states(cluster, run_id: str) -> dict[int, str]:
    instances = cluster.api("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/stage_partition/listMapped")
    return {ti["map_index"]: ti["state"] for ti in instances["task_instances"]}


def wait_for_scheduled_run(cluster) -> str:
    """The end state of the nightly run the scheduler starts for the latest cron point once the DAG appears."""
    def scheduled_run() -> tuple[str, str] | None:
        runs = cluster.api("GET", f"dags/{DAG_ID}/dagRuns")["dag_runs"]
        return next(((DAG_ID, run["dag_run_id"]) for run in runs if run["run_type"] == "scheduled"), None)

    run = cluster.wait_until(scheduled_run, 120, "a scheduled run created")
    return cluster.wait_for_runs([run])[run]


def test_clearing_one_failed_partition_reruns_only_that_remainder(appxml_db, tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / DAG_FILE.name).symlink_to(DAG_FILE)
    env = {conn_env_name(CONN_ID): appxml_db.db.airflow_conn(), FAIL_AFTER_ENV: "1:2"}
    empty_source = seed.create_source_table(appxml_db.engine)
    with airflow_cluster(dags, tmp_path / "home", env=env) as cluster:
        cluster.wait_for_dags([DAG_ID])
        # The nightly run for the latest cron point starts at once; on an empty source it stages nothing.
        assert wait_for_scheduled_run(cluster) == "success"
        seed.load_source(appxml_db.engine, empty_source,
                         ((doc.app_id, seed.as_text(doc.body)) for doc in appxml_db.docs))

        run_id = cluster.trigger(DAG_ID, conf=RUN)
        assert cluster.wait_for_runs([(DAG_ID, run_id)]) == {(DAG_ID, run_id): "failed"}
        assert mapped_states(cluster, run_id) == {0: "success", 1: "failed", 2: "success", 3: "success"}
        staged_elsewhere = {rem: appxml_db.staged_ids(4, rem) for rem in (0, 2, 3)}

        cluster.api("POST", f"dags/{DAG_ID}/clearTaskInstances", {
            "dry_run": False, "only_failed": True, "dag_run_id": run_id,
            "task_ids": [["stage_partition", 1]], "include_downstream": True})
        assert cluster.wait_for_runs([(DAG_ID, run_id)]) == {(DAG_ID, run_id): "success"}

        tries = {ti["map_index"]: ti["try_number"] for ti in cluster.api(
            "GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/stage_partition/listMapped")["task_instances"]}
        assert tries == {0: 1, 1: 2, 2: 1, 3: 1}  # only rem=1/4 ran again
        assert cluster.task_states(DAG_ID, run_id)["summary"] == "success"
    assert {rem: appxml_db.staged_ids(4, rem) for rem in (0, 2, 3)} == staged_elsewhere
    staged = appxml_db.staged()
    assert sorted(staged) == sorted(appxml_db.expected())
