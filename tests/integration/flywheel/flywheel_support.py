"""What the Flywheel integration tests share: the runbook's production job runs written out literally
(the expectations, deliberately not derived from flywheel.yaml), a seeded moto account, and readers of
what moto recorded."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from devtools.flywheel.demo import seed_account
from pipelines.flywheel.config import load_environment

DATA = "s3://omc-flywheel-data-us-east-1-prod"
JOB = "etl-omc-flywheel-prod-"

# The production run sequence runbook, step by step: (job name, --arguments).
RUNBOOK: dict[str, tuple[str, dict[str, str]]] = {
    "infobase_split_and_bucket": (JOB + "infobase-split-and-bucket", {
        "--SNAPSHOT_DT": "_NONE_",
        "--SOURCE_PATH": f"{DATA}/opus/infobase_attributes/raw_input/",
        "--TARGET_PATH": f"{DATA}/omc_cleanroom_data/split_cluster/infobase_attributes/",
        "--CSV_FILE": f"{DATA}/omc_cleanroom_data/omc_flywheel_infobase_table_split_lowercase.csv",
    }),
    "addressable_bucket": (JOB + "addressable-bucket", {
        "--SNAPSHOT_DT": "_NONE_",
        "--SOURCE_PATH": f"{DATA}/omc_cleanroom_data/addressable/addressable_ids_compaction_cr/",
        "--TARGET_PATH": f"{DATA}/omc_cleanroom_data/split_cluster/addressable_ids/",
    }),
    "register_infobase": (JOB + "register-staged-tables", {
        "--DATABASE": "omc_flywheel_prod",
        "--S3_ROOT": f"{DATA}/omc_cleanroom_data/split_cluster/infobase_attributes/",
        "--TABLE_PREFIX": "ext_",
        "--MAX_COLS": "100",
    }),
    "register_addressable": (JOB + "register-staged-tables", {
        "--DATABASE": "omc_flywheel_prod",
        "--S3_ROOT": f"{DATA}/omc_cleanroom_data/split_cluster/addressable_ids/",
        "--TABLE_PREFIX": "ext_",
        "--MAX_COLS": "100",
    }),
    "create_athena_bucketed_tables": (JOB + "create-athena-bucketed-tables", {
        "--ATHENA_WORKGROUP": "primary",
        "--BUCKET_COUNT": "256",
        "--BUCKET_COL": "customer_user_id",
        "--STAGED_DB": "omc_flywheel_prod",
        "--FINAL_DB": "omc_flywheel_prod",
        "--BUCKETED_BASE": f"{DATA}/omc_cleanroom_data/cleanroom_tables/bucketed/",
        "--ATHENA_RESULTS_S3": "s3://omc-flywheel-prod-analysis-data/query-results/",
    }),
    "infobase_split_and_part": (JOB + "infobase-split-and-part", {
        "--SNAPSHOT_DT": "_NONE_",
        "--SOURCE_PATH": f"{DATA}/opus/infobase_attributes/raw_input/",
        "--TARGET_PATH": f"{DATA}/omc_cleanroom_data/split_part/infobase_attributes/",
        "--CSV_FILE": f"{DATA}/omc_cleanroom_data/omc_flywheel_infobase_table_split_part.csv",
    }),
    "addressable_split_and_part": (JOB + "addressable-split-and-part", {
        "--SNAPSHOT_DT": "_NONE_",
        "--SOURCE_PATH": f"{DATA}/opus/addressable_ids/raw_input/",
        "--TARGET_PATH": f"{DATA}/omc_cleanroom_data/split_part/addressable_ids/",
        "--CSV_FILE": f"{DATA}/omc_cleanroom_data/omc_flywheel_addressable_ids_table_split_part.csv",
    }),
    "register_part_tables": (JOB + "register-part-tables", {
        "--SNAPSHOT_DT": "_NONE_",
        "--SOURCE_PATH": f"{DATA}/omc_cleanroom_data/split_part/",
        "--STAGED_DB": "omc_flywheel_prod",
        "--TABLE_PREFIX": "part_",
    }),
    "prepare_part_tables": (JOB + "prepare-part-tables", {
        "--AWS_REGION": "us-east-1",
        "--DATABASE": "omc_flywheel_prod",
        "--WORKGROUP": "primary",
        "--RESULTS_S3": "s3://aws-athena-query-results-us-east-1-<account>/msck/",
        "--TABLE_PREFIX": "part_",
        "--MAX_CONCURRENCY": "5",
        "--POLL_INTERVAL_SEC": "2",
    }),
    "generate_cleanrooms_report": (JOB + "generate-cleanrooms-report", {}),
}


@dataclass(frozen=True)
class JobRun:
    job: str
    run_id: str
    state: str
    arguments: dict[str, str]
    started_on: Any


@dataclass
class FlywheelAccount:
    """The seeded moto account of one test."""

    endpoint: Any

    def client(self, service: str) -> Any:
        return self.endpoint.client(service)

    def job_runs(self) -> list[JobRun]:
        """Every Glue job run moto recorded, oldest first."""
        glue = self.client("glue")
        runs = []
        for job in glue.get_jobs()["Jobs"]:
            for run in glue.get_job_runs(JobName=job["Name"])["JobRuns"]:
                runs.append(JobRun(job["Name"], run["Id"], run["JobRunState"], run.get("Arguments", {}),
                                   run["StartedOn"]))
        return sorted(runs, key=lambda run: run.started_on)

    def athena_queries(self) -> list[str]:
        athena = self.client("athena")
        ids = athena.list_query_executions().get("QueryExecutionIds", [])
        return [athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Query"] for qid in ids]


def seed_prod_account(endpoint: Any, snapshot_dt: str | None = None) -> FlywheelAccount:
    account = FlywheelAccount(endpoint)
    seed_account({"glue": account.client("glue"), "s3": account.client("s3")}, load_environment("prod"), snapshot_dt)
    return account


def set_glue_run_progression(endpoint: Any, transition: dict[str, Any]) -> None:
    """moto's state manager: how Glue job runs move STARTING -> RUNNING -> SUCCEEDED."""
    body = json.dumps({"model_name": "glue::job_run", "transition": transition}).encode()
    request = urllib.request.Request(f"{endpoint.url}/moto-api/state-manager/set-transition", data=body,
                                     method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10)


@contextmanager
def slow_glue_runs(endpoint: Any, reads_per_state: int) -> Iterator[None]:
    """Each Glue run stays in STARTING, then RUNNING, for ``reads_per_state`` status reads."""
    set_glue_run_progression(endpoint, {"progression": "manual", "times": reads_per_state})
    try:
        yield
    finally:
        set_glue_run_progression(endpoint, {"progression": "immediate"})


@contextmanager
def runs_of_job_fail(job_name: str) -> Iterator[list[str]]:
    """Every run of ``job_name`` started meanwhile ends FAILED, as if the Spark job had crashed.

    Changes the run inside the in-process moto backend (the session's ThreadedMotoServer): this fakes
    AWS, not the operator. Yields the ids of the runs it failed."""
    from moto.glue.models import glue_backends

    failed: list[str] = []
    stop = threading.Event()

    def fail_new_runs() -> None:
        backend = glue_backends["123456789012"]["us-east-1"]
        while not stop.wait(0.02):
            job = backend.jobs.get(job_name)
            for run in job.job_runs if job else []:
                if run.job_run_id not in failed:
                    run.status = "FAILED"
                    failed.append(run.job_run_id)

    watcher = threading.Thread(target=fail_new_runs, daemon=True, name="fail-glue-runs")
    watcher.start()
    try:
        yield failed
    finally:
        stop.set()
        watcher.join(timeout=5)


def fast_retries(dag: Any, *, waiter_delay: int = 1, waiter_max_attempts: int | None = None) -> None:
    """Test pacing: retry at once and poll Glue every second (production waits minutes)."""
    for task in dag.tasks:
        task.retry_delay = timedelta(0)
        if hasattr(task, "waiter_delay"):
            task.waiter_delay = waiter_delay
            if waiter_max_attempts is not None:
                task.waiter_max_attempts = waiter_max_attempts


def load_flywheel_dag(dag_id: str) -> Any:
    """A freshly parsed DAG (tests may change its pacing without affecting each other)."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.support.airflow_env import DAGS_FOLDER

    bag = DagBag(dag_folder=str(DAGS_FOLDER / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]
