"""Under a real scheduler (dag.test() only makes manual runs): a backfill runs each date's snapshot,
and ``airflow backfill create --reprocess-behavior failed`` re-runs exactly the dates that failed.

2026-03-01 has its snapshot folder in S3, 2026-03-02 not yet: the first backfill fails that date at the
snapshot sensor and no Glue job runs for it. Once the folder lands, the reprocessing backfill runs only
2026-03-02; moto then holds one run of every step per date, each with that date as ``--SNAPSHOT_DT``."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml

from devtools.flywheel.demo import put_snapshot
from pipelines.flywheel.config import load_environment
from tests.integration.flywheel.flywheel_support import RUNBOOK, seed_prod_account
from tests.support.airflow_cluster import COMPONENTS, ClusterError, airflow_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DAG_ID = "flywheel_bucketed"
DATES = ["2026-03-01", "2026-03-02"]
SPLIT_JOBS = [RUNBOOK["infobase_split_and_bucket"][0], RUNBOOK["addressable_bucket"][0]]


@pytest.fixture
def fast_include(tmp_path: Path) -> Path:
    """include/ with the snapshot sensors checking every second and giving up after 4 s (prod: 12 h), and
    Glue runs polled every 2 s (prod: 60 s)."""
    include = tmp_path / "include"
    shutil.copytree(PROJECT_ROOT / "include", include)
    config_file = include / "config" / "flywheel.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["snapshot_wait"] = {"poke_seconds": 1, "timeout_seconds": 4}
    config["glue_wait"] = {"poll_seconds": 2, "max_poll_attempts": 100}
    config_file.write_text(yaml.safe_dump(config))
    return include


def backfill(cluster, *extra: str) -> None:
    """``airflow backfill create`` over DATES; waits while the previous backfill is being closed."""
    args = ["backfill", "create", "--dag-id", DAG_ID, "--from-date", DATES[0], "--to-date", DATES[-1], *extra]

    def created() -> bool:
        try:
            cluster.cli(*args)
        except ClusterError as error:
            if "Another backfill is running" not in str(error):
                raise
            return False
        return True

    cluster.wait_until(created, 120, "backfill created", runs=backfill_runs(cluster).values(), poll=2)


def backfill_runs(cluster) -> dict[str, tuple[str, str]]:
    """{date: (dag_id, run_id)} of the backfill runs."""
    runs = cluster.api("GET", f"dags/{DAG_ID}/dagRuns?limit=100")["dag_runs"]
    return {run["logical_date"][:10]: (DAG_ID, run["dag_run_id"]) for run in runs if run["run_type"] == "backfill"}


def wait_for_backfill_states(cluster) -> dict[str, str]:
    """The end state of each date's backfill run, once every date has one and all have finished."""
    def every_date_has_a_run() -> dict[str, tuple[str, str]] | None:
        runs = backfill_runs(cluster)
        return runs if set(runs) == set(DATES) else None

    runs = cluster.wait_until(every_date_has_a_run, 120, "a backfill run for every date", poll=2)
    states = cluster.wait_for_runs(runs.values())
    return {date: states[run] for date, run in runs.items()}


def test_backfill_reprocesses_exactly_the_failed_snapshot_dates(aws, tmp_path, fast_include):
    account = seed_prod_account(aws, snapshot_dt=DATES[0])
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    shutil.copy(PROJECT_ROOT / "dags" / f"{DAG_ID}.py", dags_folder)
    env = {"AIRFLOW_CONN_AWS_FLYWHEEL": aws.airflow_conn(), "AIRFLOW_VAR_FLYWHEEL_ENV": "prod",
           "PIPELINES_INCLUDE_DIR": str(fast_include)}

    with aws.paced_glue_job_runs(), \
            airflow_cluster(dags_folder, tmp_path / "home", env=env, components=(*COMPONENTS, "triggerer")) as cluster:
        cluster.wait_for_dags([DAG_ID])

        backfill(cluster)
        first = wait_for_backfill_states(cluster)
        first_split_dates = sorted(run.arguments["--SNAPSHOT_DT"] for run in account.job_runs()
                                   if run.job in SPLIT_JOBS)

        put_snapshot(account.client("s3"), load_environment("prod"), DATES[1])
        backfill(cluster, "--reprocess-behavior", "failed")
        second = wait_for_backfill_states(cluster)

    assert first == {DATES[0]: "success", DATES[1]: "failed"}
    assert first_split_dates == [DATES[0], DATES[0]]  # nothing ran for the date without its snapshot
    assert second == {DATES[0]: "success", DATES[1]: "success"}
    runs = account.job_runs()
    # five steps per date, none repeated for the date that had succeeded
    assert len(runs) == 2 * 5, [(run.job.removeprefix(RUNBOOK["register_infobase"][0].split("register")[0]),
                                 run.arguments.get("--SNAPSHOT_DT"), run.state) for run in runs]
    dates_per_job = Counter((run.job, run.arguments.get("--SNAPSHOT_DT")) for run in runs if run.job in SPLIT_JOBS)
    assert dates_per_job == Counter({(job, date): 1 for job in SPLIT_JOBS for date in DATES})
