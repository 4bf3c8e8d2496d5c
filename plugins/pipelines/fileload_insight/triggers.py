"""The wait for a partition's run lock, in the triggerer: no worker, no pool slot, no poke to race.

A run that finds its partition held defers with the lock state it saw (``LockStore.state``). The trigger
reads that state every ``poll_seconds`` and fires once the locks look free or anything changed (another
holder, or the holder turned stale); the task then tries to take the lock again in the worker, and defers
anew if another run was faster. Taking the lock stays in the worker: a trigger can be run twice (triggerer
restart, two triggerers), and only the task's own try decides who holds the partition.

Why not a reschedule-mode sensor: its poke's late "success" can reach the scheduler after the next poke was
queued, which then fails the task (apache/airflow#71172); a deferred task resumes through another path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from pipelines.fileload_insight.locks import LockRequest, LockState, is_free, open_lock_store

log = logging.getLogger(__name__)


def read_lock_state(conn_id: str, database: str, request: LockRequest) -> LockState:
    with open_lock_store(conn_id, database) as store:
        return store.state(request)


class PartitionLockChangeTrigger(BaseTrigger):
    """Fires ``{"state": <lock state>}`` once the partition's locks are free or differ from ``waited_on``."""

    def __init__(self, *, conn_id: str, database: str, request: dict[str, Any], waited_on: LockState,
                 poll_seconds: float) -> None:
        super().__init__()
        self.conn_id, self.database = conn_id, database
        self.request, self.waited_on, self.poll_seconds = request, waited_on, poll_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}", {
            "conn_id": self.conn_id, "database": self.database, "request": self.request,
            "waited_on": self.waited_on, "poll_seconds": self.poll_seconds})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        request = LockRequest(**self.request)
        read = sync_to_async(read_lock_state)
        while True:
            try:
                state = await read(self.conn_id, self.database, request)
            except Exception as exc:  # the database away for a while: keep waiting, the deferral timeout bounds it
                log.warning("Partition %s: could not read the lock state (%s); trying again in %ss",
                            request.partition, type(exc).__name__, self.poll_seconds)
            else:
                if is_free(state) or state != self.waited_on:
                    yield TriggerEvent({"state": state})
                    return
            await asyncio.sleep(self.poll_seconds)
