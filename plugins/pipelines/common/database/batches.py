"""The read -> transform -> write loop of one partition, with the next read and the previous write in flight.

Reading, transforming and writing would otherwise take turns. Two helper threads run the keyset read of
batch n+1 and the commit of batch n-1 while the calling thread transforms batch n (lxml releases the GIL for
much of a parse). The reader and the writer each keep their own thread and connection: raw batches are then
always allocated by the same thread, in the same malloc arena (a pool whose two threads took turns reading
large batches left the memory of both arenas in use: a third more peak memory when staging).

At most two raw batches (the one transformed, the one fetched) and two transformed ones
(the one written, the one being made) are alive, so memory is bounded by the batch, not the partition.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from pipelines.common.database.reading import prepare_reader

Out = TypeVar("Out")


@dataclass
class RawBatch:
    """One keyset page: ``(app_id, document)`` rows in app_id order."""

    rows: list[tuple[int, Any]]

    @property
    def low(self) -> int:
        return self.rows[0][0]

    @property
    def high(self) -> int:
        return self.rows[-1][0]


class KeysetPages:
    """The pages of one partition, read by keyset after an app_id, at most ``limit`` rows in all (0 = all)."""

    def __init__(self, select_page: Callable[[int | None, int], sa.Select], batch: int, limit: int) -> None:
        self.select_page, self.batch, self.limit = select_page, batch, limit
        self.fetched = 0

    def read(self, conn: sa.Connection, after: int | None) -> RawBatch | None:
        """The next page after ``after``, or None at the end of the partition (or of the limit)."""
        size = self.batch if not self.limit else min(self.batch, self.limit - self.fetched)
        if size <= 0:
            return None
        rows = [(row[0], row[1]) for row in conn.execute(self.select_page(after, size))]
        # End the read transaction between batches: no snapshot held for hours on the source.
        conn.rollback()
        self.fetched += len(rows)
        return RawBatch(rows) if rows else None


@dataclass
class Overlap(Generic[Out]):
    """Runs ``transform`` on the calling thread and ``write`` (one transaction per batch) on a helper thread,
    while the other helper reads the next page; the first error of any stage ends the run and is raised."""

    pages: KeysetPages
    transform: Callable[[RawBatch], Out]
    write: Callable[[sa.Connection, Out], None]
    thread_name: str

    def run(self, engine: sa.Engine, after: int | None) -> None:
        with engine.connect() as reader, engine.connect() as writer, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.thread_name}-reader") as reading, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.thread_name}-writer") as writing:
            prepare_reader(reader)
            next_read = reading.submit(self.pages.read, reader, after)
            pending: Future | None = None
            try:
                while (batch := next_read.result()) is not None:
                    next_read = reading.submit(self.pages.read, reader, batch.high)
                    out = self.transform(batch)
                    del batch  # release the raw documents before the next batch arrives
                    if pending is not None:
                        pending.result()  # the previous commit, and its error if it failed
                    pending = writing.submit(self.write, writer, out)
                if pending is not None:
                    pending.result()
            finally:
                for future in (next_read, pending):
                    if future is not None:
                        future.cancel()
