"""Bodies of the Fileload and Insight tasks: one program step of a partition, and the release of the
partition's run lock. The operators in ``operators`` run them (the setup's lock wait, deferred to the
triggerer and asking a human before a stale lock is taken over, is the sensor's own).

Each body fails its task at once, without retries, on an error no retry can fix (a missing connection, an
unsupported one): see ``pipelines.common.errors``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from airflow.sdk import BaseHook

from pipelines.common import metrics
from pipelines.common.errors import fail_without_retry, require_connection
from pipelines.fileload_insight.config import Command, Partition
from pipelines.fileload_insight.lockfile import ensure_lockfile_free
from pipelines.fileload_insight.locks import open_lock_store
from pipelines.fileload_insight.programs import (
    RunningCommand,
    base_environment,
    check_exit,
    program_argv,
    program_environment,
    start_command,
)

log = logging.getLogger(__name__)


@fail_without_retry
def run_program_step(partition: Partition, command: Command, step: str, *, lockfile: str | None, dag_id: str,
                     run_id: str, started: Callable[[RunningCommand], None] | None = None) -> None:
    """Run ``command`` (Fileload, or one Insight step) on ``partition`` as a subprocess, to its end; a non-zero
    exit raises ``CommandFailed``. ``started`` gets the running program (so a killed task can kill it)."""
    if lockfile:
        # Raises LockfileHeld (one line); the task's retries give a manual run time to finish.
        ensure_lockfile_free(Path(lockfile))
    require_connection(partition.conn_id)
    extra = {**command.env, "PIPELINE_STEP": step}
    if lockfile:
        extra["PUP_FILELOAD_LOCKFILE"] = lockfile
    env = program_environment(partition, BaseHook.get_connection(partition.conn_id), dag_id=dag_id,
                              run_id=run_id, extra=extra, inherited=base_environment())
    with metrics.Stopwatch() as took:
        running = start_command(f"{step}[{partition.name}]", program_argv(partition, command, lockfile), env)
        if started is not None:
            started(running)
        check_exit(running, running.wait())
    metrics.emit("fileload_insight", {"duration": took.seconds}, partition=partition.name, stage=step)


@fail_without_retry
def release_run_lock(partition: str, conn_id: str, database: str, *, dag_id: str, run_id: str,
                     with_flag: bool) -> dict[str, bool]:
    """Clear run ``run_id``'s Insight lock flag (``with_flag``) and release its run lock on ``partition``;
    says which of them this run still held."""
    with open_lock_store(conn_id, database) as store:
        flag_cleared, released = store.release(partition, dag_id, run_id, with_flag)
    log.info("Partition %s: run lock released=%s, lock flag cleared=%s", partition, released, flag_cleared)
    return {"run_lock_released": released, "flag_cleared": flag_cleared}
