"""The three kinds of task in a Fileload or Insight run: take the partition's run lock (setup, a sensor
that waits in the triggerer), run a program step, release the run lock (teardown). A missing or unsupported
connection and a stale lock flag fail the task at once: no retry can fix them.

A teardown only runs after its setup succeeded, so a setup that took the run lock and then failed for
good (its worker died after the lock was committed, every retry included) releases the lock itself, in
its failure callback: the next run of the partition then starts without ``force_unlock``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook, BaseOperator, BaseSensorOperator, timezone
from airflow.sdk.exceptions import AirflowSensorTimeout

from pipelines.common.alerts import FailureAlert, post_alert
from pipelines.common.errors import PermanentError, fail_without_retry, require_connection
from pipelines.fileload_insight.config import Command, Partition
from pipelines.fileload_insight.lockfile import ensure_lockfile_free
from pipelines.fileload_insight.locks import Holder, LockRequest, LockStore, open_lock_store
from pipelines.fileload_insight.programs import RunningCommand, base_environment, check_exit, start_command
from pipelines.fileload_insight.triggers import PartitionLockChangeTrigger

log = logging.getLogger(__name__)


class StaleLockFlag(PermanentError):
    """A stale Insight lock flag blocks the partition; only a run triggered with force_unlock clears it."""


@dataclass(frozen=True)
class StaleLockAlert(FailureAlert):
    """A Slack message about a lock left behind by a run that is no longer working."""

    @property
    def title(self) -> str:
        return f"Stale lock on partition: {self.dag_id}"


def stale_alert(context: Mapping[str, Any], partition: str, holder: Holder, action: str) -> StaleLockAlert:
    ti = context["ti"]
    return StaleLockAlert(
        dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, reason=action,
        details={"Partition": partition, "Held by": f"{holder.dag_id} / {holder.run_id}",
                 "Age": f"{holder.age_seconds // 60} min"},
    )


class PartitionLockTask:
    """What the setup and the teardown share: the partition's lock tables and how this run leaves them."""

    partition: str
    conn_id: str
    database: str
    with_flag: bool

    def _target(self, partition: str, conn_id: str, database: str, with_flag: bool) -> None:
        self.partition, self.conn_id, self.database, self.with_flag = partition, conn_id, database, with_flag

    def release(self, ti: Any) -> tuple[bool, bool]:
        """Clear run ``ti.run_id``'s Insight lock flag and run lock; returns (flag cleared, run lock released)."""
        with open_lock_store(self.conn_id, self.database) as store:
            return store.release(self.partition, ti.dag_id, ti.run_id, self.with_flag)


def release_lock_of_failed_setup(context: Mapping[str, Any]) -> None:
    """``on_failure_callback`` of the setup: frees what this run holds (nothing, when it never got the
    lock). Never raises: a callback must not hide the failure it reports on."""
    task, ti = context["task"], context["ti"]
    try:
        flag_cleared, released = task.release(ti)
    except Exception as exc:
        log.error("%s: could not release the run lock of failed run %s (%s); it goes stale, then force_unlock "
                  "clears it", ti.dag_id, ti.run_id, type(exc).__name__)
        return
    if released or flag_cleared:
        log.warning("Partition %s: released the run lock%s taken by failed run %s", task.partition,
                    " and Insight lock flag" if flag_cleared else "", ti.run_id)


def _callbacks(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


class PartitionRunLockSensor(PartitionLockTask, BaseSensorOperator):
    """Setup: take partition p's run lock (Insight: and its lock flag), waiting while another run holds it.

    The wait holds neither a worker nor a pool slot: deferred to the triggerer (``PartitionLockChangeTrigger``),
    or with ``deferrable=False`` (no triggerer) in reschedule mode, one try every ``poke_interval``.
    """

    ui_color = "#f0e4ba"

    def __init__(self, *, partition: str, conn_id: str, database: str, with_flag: bool,
                 stale_after_seconds: int, deferrable: bool = True, on_failure_callback: Any = None,
                 **kwargs: Any) -> None:
        # Named here so that Airflow fills it from default_args (the Slack alert) before we add ours.
        kwargs["on_failure_callback"] = [*_callbacks(on_failure_callback), release_lock_of_failed_setup]
        kwargs.setdefault("mode", "poke" if deferrable else "reschedule")
        super().__init__(**kwargs)
        self._target(partition, conn_id, database, with_flag)
        self.stale_after_seconds = stale_after_seconds
        self.deferrable = deferrable

    def lock_request(self, context: Any) -> LockRequest:
        ti = context["ti"]
        return LockRequest(
            partition=self.partition, dag_id=ti.dag_id, run_id=ti.run_id, with_flag=self.with_flag,
            stale_after_seconds=self.stale_after_seconds,
            force_unlock=bool(context["params"].get("force_unlock", False)),
        )

    def execute(self, context: Any) -> None:
        if not self.deferrable:
            return super().execute(context)
        self.take_or_defer(context, deadline=timezone.utcnow() + timedelta(seconds=self.timeout))

    def execute_complete(self, context: Any, event: Any = None, deadline: str = "") -> None:
        """Back from the triggerer: the locks changed; try again (and wait again if another run was faster)."""
        self.take_or_defer(context, deadline=datetime.fromisoformat(deadline))

    @fail_without_retry
    def take_or_defer(self, context: Any, deadline: datetime) -> None:
        request = self.lock_request(context)
        with open_lock_store(self.conn_id, self.database) as store:
            store.ensure_tables()
            if self.take(context, store, request):
                return
            waited_on = store.state(request)
        remaining = deadline - timezone.utcnow()
        if remaining.total_seconds() <= 0:
            raise AirflowSensorTimeout(f"partition {self.partition} still held after {self.timeout:.0f}s")
        self.defer(
            trigger=PartitionLockChangeTrigger(conn_id=self.conn_id, database=self.database,
                                               request=asdict(request), waited_on=waited_on,
                                               poll_seconds=self.poke_interval),
            method_name="execute_complete", kwargs={"deadline": deadline.isoformat()}, timeout=remaining,
        )

    @fail_without_retry
    def poke(self, context: Any) -> bool:
        with open_lock_store(self.conn_id, self.database) as store:
            store.ensure_tables()
            return self.take(context, store, self.lock_request(context))

    def take(self, context: Any, store: LockStore, request: LockRequest) -> bool:
        """One try at the partition: True when this run holds it now; a stale flag alerts (and, without
        force_unlock, fails the task)."""
        attempt = store.try_acquire(request)
        if attempt.stale_flag is not None:
            action = ("cleared with force_unlock" if attempt.acquired
                      else "left in place: trigger with force_unlock=true to clear it")
            post_alert(stale_alert(context, self.partition, attempt.stale_flag, f"Insight lock flag {action}"))
            if not attempt.acquired:
                raise StaleLockFlag(
                    f"stale Insight lock flag on partition {self.partition} held by {attempt.stale_flag}; "
                    "trigger with force_unlock=true to clear it")
        for holder in attempt.forced:
            self.log.warning("force_unlock: took over partition %s from %s", self.partition, holder)
        if attempt.acquired:
            what = "run lock and Insight lock flag" if self.with_flag else "run lock"
            self.log.info("Partition %s %s taken by this run", self.partition, what)
            return True
        self.log.info("Partition %s is held by %s; waiting (no slot held)", self.partition, attempt.blocked_by)
        return False


class ReleaseRunLockOperator(PartitionLockTask, BaseOperator):
    """Teardown: clear this run's Insight lock flag and release its run lock, even when a step failed."""

    ui_color = "#d8e4f0"

    def __init__(self, *, partition: str, conn_id: str, database: str, with_flag: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._target(partition, conn_id, database, with_flag)

    @fail_without_retry
    def execute(self, context: Any) -> dict[str, bool]:
        flag_cleared, released = self.release(context["ti"])
        self.log.info("Partition %s: run lock released=%s, lock flag cleared=%s", self.partition, released,
                      flag_cleared)
        return {"run_lock_released": released, "flag_cleared": flag_cleared}


def program_environment(partition: Partition, connection: Any, *, dag_id: str, run_id: str,
                        extra: Mapping[str, str], inherited: Mapping[str, str]) -> dict[str, str]:
    """What the program sees: its partition's names, and the DB credentials from the Airflow connection.

    Credentials go only here, never on the command line (visible to every user through ``ps``)."""
    env = {
        **inherited,
        **extra,
        "PARTITION": partition.name,
        "MEMBER_REPOSITORY_DB": partition.member_repository_db,
        "OUTCOMES_IDENTIFICATION_DB": partition.outcomes_identification_db,
        "POLICY_IDS": ",".join(str(policy) for policy in partition.policies),
        "DB_HOST": connection.host or "",
        "DB_PORT": "" if connection.port is None else str(connection.port),
        "DB_USER": connection.login or "",
        "DB_PASSWORD": connection.password or "",
        "PIPELINE_DAG_ID": dag_id,
        "PIPELINE_RUN_ID": run_id,
    }
    if partition.volume:
        env["STORAGE_VOLUME"] = partition.volume
    return env


class PartitionCommandOperator(BaseOperator):
    """Run one program step of a partition as a subprocess (Fileload, or one Insight step)."""

    ui_color = "#e0f0d8"

    def __init__(self, *, partition: Partition, command: Command, step: str, lockfile: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.partition = partition
        self.command = command
        self.step = step
        self.lockfile = lockfile
        self._running: RunningCommand | None = None

    def placeholders(self) -> dict[str, str]:
        return {
            "partition": self.partition.name,
            "lockfile": self.lockfile or "",
            "member_repository_db": self.partition.member_repository_db,
            "outcomes_identification_db": self.partition.outcomes_identification_db,
        }

    def environment(self, connection: Any, dag_id: str, run_id: str) -> dict[str, str]:
        extra = dict(self.command.env)
        extra["PIPELINE_STEP"] = self.step
        if self.lockfile:
            extra["PUP_FILELOAD_LOCKFILE"] = self.lockfile
        return program_environment(self.partition, connection, dag_id=dag_id, run_id=run_id, extra=extra,
                                   inherited=base_environment())

    def argv(self) -> Sequence[str]:
        return self.command.render_argv(self.placeholders())

    @fail_without_retry
    def execute(self, context: Any) -> None:
        ti = context["ti"]
        if self.lockfile:
            # Raises LockfileHeld (one line); the task's retries give a manual run time to finish.
            ensure_lockfile_free(Path(self.lockfile))
        require_connection(self.partition.conn_id)
        connection = BaseHook.get_connection(self.partition.conn_id)
        env = self.environment(connection, ti.dag_id, ti.run_id)
        self._running = start_command(f"{self.step}[{self.partition.name}]", self.argv(), env)
        check_exit(self._running, self._running.wait())

    def on_kill(self) -> None:
        if self._running is not None:
            self._running.kill()
