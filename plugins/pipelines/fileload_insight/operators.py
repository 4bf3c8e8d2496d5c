"""The three kinds of task in a Fileload or Insight run: take the partition's run lock (setup, a sensor
that waits in the triggerer, and asks a human before it takes over a stale lock), run a program step, release
the run lock (teardown). A missing or unsupported connection, a rejected takeover and an unanswered one fail
the task at once: no retry can fix them.

A teardown only runs after its setup succeeded, so a setup that took the run lock and then failed for
good (its worker died after the lock was committed, every retry included) releases the lock itself, in
its failure callback: the next run of the partition then starts without ``force_unlock``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import BaseOperator, BaseSensorOperator, timezone
from airflow.sdk.exceptions import AirflowSensorTimeout, TaskAwaitingInput
from airflow.sdk.execution_time.hitl import upsert_hitl_detail

from pipelines.common import lineage, metrics
from pipelines.common.alerts import FailureAlert, post_alert
from pipelines.common.errors import fail_without_retry
from pipelines.fileload_insight import tasks
from pipelines.fileload_insight.config import Command, Partition
from pipelines.fileload_insight.errors import TakeoverRefused
from pipelines.fileload_insight.locks import Holder, LockAttempt, LockRequest, LockStore, open_lock_store
from pipelines.fileload_insight.programs import RunningCommand
from pipelines.fileload_insight.triggers import PartitionLockChangeTrigger

log = logging.getLogger(__name__)


APPROVE, REJECT = "Approve", "Reject"


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

    def release(self, ti: Any) -> dict[str, bool]:
        """Clear run ``ti.run_id``'s Insight lock flag and release its run lock (see ``tasks.release_run_lock``)."""
        return tasks.release_run_lock(self.partition, self.conn_id, self.database, dag_id=ti.dag_id,
                                      run_id=ti.run_id, with_flag=self.with_flag)


def release_lock_of_failed_setup(context: Mapping[str, Any]) -> None:
    """``on_failure_callback`` of the setup: frees what this run holds (nothing, when it never got the
    lock). Never raises: a callback must not hide the failure it reports on."""
    task, ti = context["task"], context["ti"]
    try:
        released = task.release(ti)
    except Exception as exc:
        log.error("%s: could not release the run lock of failed run %s (%s); it goes stale, then force_unlock "
                  "clears it", ti.dag_id, ti.run_id, type(exc).__name__)
        return
    if released["run_lock_released"] or released["flag_cleared"]:
        log.warning("Partition %s: released the run lock%s taken by failed run %s", task.partition,
                    " and Insight lock flag" if released["flag_cleared"] else "", ti.run_id)


def _callbacks(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


class PartitionRunLockSensor(PartitionLockTask, BaseSensorOperator):
    """Setup: take partition p's run lock (Insight: and its lock flag), waiting while another run holds it.

    The wait holds neither a worker nor a pool slot: deferred to the triggerer (``PartitionLockChangeTrigger``),
    or with ``deferrable=False`` (no triggerer) in reschedule mode, one try every ``poke_interval``.

    A holder older than ``stale_after_seconds`` (a run that died with the lock) is not waited for: Slack is
    alerted and the task asks a human, in the UI's Required actions or through the REST API's hitlDetails,
    whether to take the partition over (Airflow's Human-in-the-loop, ``awaiting_input``: no worker, no
    triggerer). Approve: it takes over and the run goes on. Reject, or no answer within
    ``decision_timeout``: the task fails once, with one alert. ``force_unlock`` takes over without asking.
    The setup succeeds only when this run holds the partition, so no step (a cleared one included) ever runs
    without it.
    """

    ui_color = "#f0e4ba"

    def __init__(self, *, partition: str, conn_id: str, database: str, with_flag: bool,
                 stale_after_seconds: int, decision_timeout: timedelta, deferrable: bool = True,
                 on_failure_callback: Any = None, **kwargs: Any) -> None:
        # Named here so that Airflow fills it from default_args (the Slack alert) before we add ours.
        kwargs["on_failure_callback"] = [*_callbacks(on_failure_callback), release_lock_of_failed_setup]
        kwargs.setdefault("mode", "poke" if deferrable else "reschedule")
        super().__init__(**kwargs)
        self._target(partition, conn_id, database, with_flag)
        self.stale_after_seconds = stale_after_seconds
        self.decision_timeout = decision_timeout
        self.deferrable = deferrable

    def lock_request(self, context: Any, *, force_unlock: bool = False) -> LockRequest:
        ti = context["ti"]
        return LockRequest(
            partition=self.partition, dag_id=ti.dag_id, run_id=ti.run_id, with_flag=self.with_flag,
            stale_after_seconds=self.stale_after_seconds,
            force_unlock=force_unlock or bool(context["params"].get("force_unlock", False)),
        )

    def execute(self, context: Any) -> None:
        if not self.deferrable:
            return super().execute(context)
        self.take_or_defer(context, deadline=timezone.utcnow() + timedelta(seconds=self.timeout))

    def execute_complete(self, context: Any, event: Any = None, deadline: str = "") -> None:
        """Back from the triggerer: the locks changed; try again (and wait again if another run was faster)."""
        self.take_or_defer(context, deadline=datetime.fromisoformat(deadline))

    @fail_without_retry
    def execute_takeover_decision(self, context: Any, event: dict[str, Any]) -> None:
        """Back from ``awaiting_input`` with a human's answer (or the timeout): take over, or fail."""
        if "error" in event:
            raise TakeoverRefused(f"partition {self.partition}: the takeover of its stale lock was not answered "
                                  f"within {self.decision_timeout}; the lock stays")
        if list(event.get("chosen_options") or []) != [APPROVE]:
            raise TakeoverRefused(f"partition {self.partition}: the takeover of its stale lock was rejected by "
                                  f"{(event.get('responded_by_user') or {}).get('name', 'a user')}; the lock stays")
        self.log.warning("Takeover of partition %s approved by %s", self.partition,
                         (event.get("responded_by_user") or {}).get("name", "a user"))
        # Approved for the stale holder: force it out. Another run that took the partition meanwhile is live,
        # and is waited for as usual.
        self.take_or_defer(context, deadline=timezone.utcnow() + timedelta(seconds=self.timeout), force_unlock=True)

    @fail_without_retry
    def take_or_defer(self, context: Any, deadline: datetime, force_unlock: bool = False) -> None:
        request = self.lock_request(context, force_unlock=force_unlock)
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
        """One try at the partition: True when this run holds it now, False while a live run holds it; a stale
        holder alerts and parks the task until a human decides (``execute_takeover_decision``)."""
        attempt = store.try_acquire(request)
        for holder in attempt.forced:
            self.log.warning("force_unlock: took over partition %s from %s", self.partition, holder)
        if attempt.acquired:
            if attempt.stale_flag is not None:
                post_alert(stale_alert(context, self.partition, attempt.stale_flag,
                                       "Insight lock flag cleared with force_unlock"))
            what = "run lock and Insight lock flag" if self.with_flag else "run lock"
            self.log.info("Partition %s %s taken by this run", self.partition, what)
            metrics.emit("fileload_insight", {"lock_wait_seconds": waited_seconds(context)}, partition=self.partition)
            return True
        if (stale := stale_blocker(request, attempt)) is not None:
            self.ask_takeover(context, stale)
        self.log.info("Partition %s is held by %s; waiting (no slot held)", self.partition, attempt.blocked_by)
        return False

    def ask_takeover(self, context: Any, stale: Holder) -> None:
        """Alert, write the question (ids only) and park the task in ``awaiting_input``."""
        post_alert(stale_alert(context, self.partition, stale, "waiting for a decision: approve or reject the "
                               "takeover (UI: Required actions), or trigger with force_unlock=true"))
        self.log.warning("Partition %s is held by %s, stale: asking whether to take it over", self.partition, stale)
        upsert_hitl_detail(
            ti_id=context["task_instance"].id, options=[APPROVE, REJECT], defaults=None, multiple=False, params={},
            subject=f"Take over the stale lock of partition {self.partition}?",
            body=f"`{stale.dag_id}` run `{stale.run_id}` has held partition `{self.partition}` for "
                 f"{stale.age_seconds // 60} min. Approve only when you know it is no longer working: this run then "
                 "takes the partition over and goes on. Reject: this run fails and the lock stays.")
        raise TaskAwaitingInput(method_name="execute_takeover_decision", timeout=self.decision_timeout)


def waited_seconds(context: Any) -> float | None:
    """How long this task instance has been at it (its waits for the run lock included)."""
    started = getattr(context["ti"], "start_date", None)
    return None if started is None else round((timezone.utcnow() - started).total_seconds(), 3)


def stale_blocker(request: LockRequest, attempt: LockAttempt) -> Holder | None:
    """The stale holder (of the run lock or the Insight lock flag) that keeps ``request`` out, if any."""
    if attempt.acquired:
        return None
    if attempt.stale_flag is not None:
        return attempt.stale_flag
    blocker = attempt.blocked_by
    return blocker if blocker is not None and request.is_stale(blocker) else None


class ReleaseRunLockOperator(PartitionLockTask, BaseOperator):
    """Teardown: clear this run's Insight lock flag and release its run lock, even when a step failed."""

    ui_color = "#d8e4f0"

    def __init__(self, *, partition: str, conn_id: str, database: str, with_flag: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._target(partition, conn_id, database, with_flag)

    def execute(self, context: Any) -> dict[str, bool]:
        return self.release(context["ti"])


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

    def execute(self, context: Any) -> None:
        ti = context["ti"]
        lineage.declare(*self.datasets(), task=self)
        tasks.run_program_step(self.partition, self.command, self.step, lockfile=self.lockfile, dag_id=ti.dag_id,
                               run_id=ti.run_id, started=self._started)

    def _started(self, running: RunningCommand) -> None:
        self._running = running  # for on_kill

    def datasets(self) -> tuple[list[lineage.DatasetRef], list[lineage.DatasetRef]]:
        """Fileload writes the member repository; each Insight step reads it and writes outcomes."""
        member = lineage.database(self.partition.conn_id, self.partition.member_repository_db)
        outcomes = lineage.database(self.partition.conn_id, self.partition.outcomes_identification_db)
        return ([], [member]) if self.step == "fileload" else ([member], [outcomes])

    def on_kill(self) -> None:
        if self._running is not None:
            self._running.kill()
