"""Run-time concurrency slots: at most ``parallel`` tables copy at the same time.

``parallel`` is a run-time param, which a static ``max_active_tis_per_dagrun`` cannot express, so the
slots are named locks on the replica.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pipelines.common.metrics import emit
from pipelines.opendental.connections import DEFAULT_IDS, ConnIds, mysql

# The task logs name the logger as the line's source: it stays the one the tasks logged under before
# this module was split out of tasks.py, so operators' log searches keep finding the wait lines.
log = logging.getLogger("pipelines.opendental.tasks")


@contextmanager
def concurrency_slot(parallel: int, ids: ConnIds = DEFAULT_IDS, poll_seconds: float = 5.0,
                     table: str | None = None) -> Iterator[int]:
    """Hold one of ``parallel`` named locks on the replica while a table's stage runs.

    A named lock belongs to its session, so a worker that dies releases its slot with its connection."""
    with mysql(ids.replica) as replica:
        cur = replica.cursor()
        cur.execute("SELECT DATABASE()")
        database = cur.fetchone()[0]
        names = [f"odetl:{database}:{slot}"[-64:] for slot in range(max(1, parallel))]
        waited = started = time.monotonic()
        while (slot := _take_free_lock(cur, names)) is None:
            if time.monotonic() - waited > 60:
                log.info("waiting for one of %d table slots (param parallel)", len(names))
                waited = time.monotonic()
            time.sleep(poll_seconds)
        emit("opendental", {"lock_wait_seconds": round(time.monotonic() - started, 3)}, lock="table_slot", table=table)
        try:
            yield slot
        finally:
            cur.execute("SELECT RELEASE_LOCK(%s)", [names[slot]])
            cur.close()


def _take_free_lock(cur: Any, names: list[str]) -> int | None:
    for slot, name in enumerate(names):
        cur.execute("SELECT GET_LOCK(%s, 0)", [name])
        if cur.fetchone()[0] == 1:
            return slot
    return None
