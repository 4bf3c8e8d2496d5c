"""Under a real scheduler (dag.test() cannot clear one mapped instance of a run): two partitions that
failed mid-way are rerun by clearing just their mapped task instances with the runbook's own REST commands
(``[task_id, map_index]`` pairs, the run's id); only those two remainders and the summary run again, and the
staged result is exactly once. The failures come from outside the package:
a trigger on the staging table refuses one app_id of rem=1's and of rem=3's third batch, and is dropped
before the clear."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.appxml import seed
from pipelines.appxml import ddl
from pipelines.appxml.config import CONN_ID
from pipelines.common.database.tables import TableName
from tests.e2e.runbook import APPXML_SECTION, run_rerun_commands
from tests.support.airflow_cluster import airflow_cluster
from tests.support.appxml_checks import first_staged_id_of_batch, index_exists, staging_refuses
from tests.support.services import conn_env_name

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
DAG_ID = "appxml_staging"
DAG_FILE = Path(__file__).resolve().parents[3] / "dags" / "appxml_staging.py"
FAILING = (1, 3)  # the remainders whose third batch the staging table refuses
RUN = {"workers": 4, "batch": 5, "limit": 0, "remainders": None, "drop_index": True, "recreate_index": True}


def mapped_states(cluster, run_id: str) -> dict[int, str]:
    instances = cluster.api("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/stage_partition/listMapped")
    return {ti["map_index"]: ti["state"] for ti in instances["task_instances"]}


def test_clearing_two_failed_partitions_reruns_only_those_remainders(appxml_db, tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / DAG_FILE.name).symlink_to(DAG_FILE)
    env = {conn_env_name(CONN_ID): appxml_db.db.airflow_conn()}
    empty_source = seed.create_source_table(appxml_db.engine)
    with_custdata = {d.app_id for d in appxml_db.docs if d.has_custdata}
    refused = [first_staged_id_of_batch(sorted(d.app_id for d in appxml_db.docs if d.app_id % 4 == rem),
                                        with_custdata, batch=RUN["batch"], number=3) for rem in FAILING]
    with airflow_cluster(dags, tmp_path / "home", env=env) as cluster:
        cluster.wait_for_dags([DAG_ID])
        # The nightly run for the latest cron point starts at once; on an empty source it stages nothing.
        assert cluster.wait_for_first_run(DAG_ID)["state"] == "success"
        seed.load_source(appxml_db.engine, empty_source,
                         ((doc.app_id, seed.as_text(doc.body)) for doc in appxml_db.docs))

        ddl.ensure_staging_table(appxml_db.engine, TableName("dbo", "app_xml_staging"))
        with staging_refuses(appxml_db.engine, refused):
            run_id = cluster.trigger(DAG_ID, conf=RUN)
            assert cluster.wait_for_runs([(DAG_ID, run_id)]) == {(DAG_ID, run_id): "failed"}
        assert mapped_states(cluster, run_id) == {0: "success", 1: "failed", 2: "success", 3: "failed"}
        staged_before = {rem: appxml_db.staged_ids(4, rem) for rem in range(4)}
        for rem, app_id in zip(FAILING, refused, strict=True):  # the batches before the refused one stay staged
            assert staged_before[rem], rem
            assert max(staged_before[rem]) < app_id, rem

        printed = run_rerun_commands(APPXML_SECTION, cluster.base_url, run_id)
        assert printed[:2] == ['[1,"rem=1/4"]', '[3,"rem=3/4"]'], printed  # the listing: the failed remainders
        cleared = json.loads(printed[2])
        # Only what failed: the index, recreated by the teardown after the failure, stays in place.
        assert sorted(map(tuple, cleared)) == [("stage_partition", 1), ("stage_partition", 3), ("summary", -1)]
        assert cluster.wait_for_runs([(DAG_ID, run_id)]) == {(DAG_ID, run_id): "success"}

        tries = {ti["map_index"]: ti["try_number"] for ti in cluster.api(
            "GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/stage_partition/listMapped")["task_instances"]}
        assert tries == {0: 1, 1: 2, 2: 1, 3: 2}  # only rem=1/4 and rem=3/4 ran again, once each
        assert cluster.task_states(DAG_ID, run_id)["summary"] == "success"
    assert index_exists(appxml_db.engine, TableName("dbo", "app_xml_staging"))
    assert {rem: appxml_db.staged_ids(4, rem) for rem in (0, 2)} == {rem: staged_before[rem] for rem in (0, 2)}
    # app_id is the staging key, so a rerun that restaged committed batches would have failed on it: the
    # reruns resumed after their last committed batch, and every CustData is staged, each exactly as expected.
    staged = appxml_db.staged()
    assert sorted(staged) == sorted(appxml_db.expected())
