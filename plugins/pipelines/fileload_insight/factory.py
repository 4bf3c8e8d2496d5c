"""One DAG per program and partition, ``pup_fileload__<p>`` and ``gr_insight__<p>``, from fileload_insight.yaml.

Every task of partition p runs in pool ``partition_<p>`` (1 slot): no two tasks touching p's databases
run at once, while other partitions run side by side. A pool works per task, so each run also holds p's
run lock from its first step to its last (setup sensor ... teardown): the other program cannot slip in
between Insight's steps.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, chain

from pipelines.common.deadlines import run_limits
from pipelines.common.defaults import dag_defaults, default_args
from pipelines.fileload_insight.config import Command, Partition, PartitionsConfig, load_settings
from pipelines.fileload_insight.operators import (
    PartitionCommandOperator,
    PartitionRunLockSensor,
    ReleaseRunLockOperator,
)
from pipelines.fileload_insight.params import program_params

FILELOAD, INSIGHT = "pup_fileload", "gr_insight"
TAGS = ["fileload_insight"]


def dag_id(program: str, partition: str) -> str:
    return f"{program}__{partition}"


def _doc(program: str, partition: Partition, config: PartitionsConfig, steps: list[str]) -> str:
    return f"""
### `{program}` on partition `{partition.name}`
Databases `{partition.member_repository_db}` and `{partition.outcomes_identification_db}` on connection
`{partition.conn_id}`; policies {", ".join(map(str, partition.policies))}; volume `{partition.volume or "-"}`.

Steps: {" -> ".join(f"`{step}`" for step in steps)}. Every task runs in pool `{partition.pool}` (1 slot).
`take_run_lock` holds the partition's run lock{" and sets the Insight lock flag" if program == INSIGHT else ""}
from the first step to the last; while another run holds it, it waits in the triggerer (no worker, no slot), and
`release_run_lock` frees it even when a step fails. A lock older than {config.stale_lock_minutes} min is stale:
Slack is alerted and `take_run_lock` asks whether to take the partition over (UI: Required actions; REST:
hitlDetails): approve and the run goes on, reject and it fails; unanswered for {config.takeover_decision_hours:g} h,
it fails. A run triggered with `force_unlock=true` takes a stale lock over without asking.
Generated from `include/config/fileload_insight.yaml` by `pipelines.fileload_insight.factory`.
"""


def _command_task(partition: Partition, command: Command, step: str, task_id: str,
                  lockfile: str | None = None) -> PartitionCommandOperator:
    return PartitionCommandOperator(
        task_id=task_id, partition=partition, command=command, step=step, lockfile=lockfile,
        pool=partition.pool, execution_timeout=timedelta(minutes=command.timeout_minutes),
    )


def build_program_dag(config: PartitionsConfig, partition: Partition, program: str) -> DAG:
    is_insight = program == INSIGHT
    step_names = [step.name for step in partition.insight.steps] if is_insight else ["fileload"]
    schedule = partition.schedules.insight if is_insight else partition.schedules.fileload
    with DAG(
        dag_id(program, partition.name),
        schedule=schedule,
        max_active_runs=1,
        params=program_params(),
        doc_md=_doc(program, partition, config, step_names),
        **dag_defaults(
            tags=[*TAGS, program, partition.pool],
            default_args=default_args(retries=config.task_retries,
                                      retry_delay=timedelta(seconds=config.retry_delay_seconds)),
            **run_limits("partitions"),
        ),
    ) as dag:
        lock_target = {"partition": partition.name, "conn_id": partition.conn_id,
                       "database": partition.outcomes_identification_db, "with_flag": is_insight}
        take = PartitionRunLockSensor(
            task_id="take_run_lock", pool=partition.pool, stale_after_seconds=config.stale_lock_minutes * 60,
            poke_interval=config.lock_poke_seconds, timeout=config.lock_wait_hours * 3600,
            decision_timeout=timedelta(hours=config.takeover_decision_hours), **lock_target,
        )
        if is_insight:
            steps = [_command_task(partition, step, step.name, f"insight_{step.name}")
                     for step in partition.insight.steps]
        else:
            steps = [_command_task(partition, partition.fileload, "fileload", "fileload",
                                   lockfile=str(config.lockfile(partition)))]
        release = ReleaseRunLockOperator(task_id="release_run_lock", pool=partition.pool, **lock_target)
        # Not on_failure_fail_dagrun: that would make the teardown the run's only leaf, and a run whose
        # step failed would end "success". A failed release still alerts Slack through its callback.
        release.as_teardown(setups=take)
        chain(take, *steps, release)
    return dag


def build_dags(config: PartitionsConfig | None = None) -> dict[str, DAG]:
    """Every program x partition DAG by id (the partitions file is read unless ``config`` is given)."""
    config = config or load_settings()
    dags = {}
    for partition in config:
        for program in (FILELOAD, INSIGHT):
            dag = build_program_dag(config, partition, program)
            dags[dag.dag_id] = dag
    return dags
