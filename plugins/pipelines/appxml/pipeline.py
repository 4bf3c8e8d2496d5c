"""Staging of one partition (``app_id % mod == rem``): keyset reads, reduction, bulk writes.

Three threads overlap the work, because reading, parsing and writing would otherwise take turns:
a reader prefetches the next keyset batch on its own connection, the calling thread parses (lxml
releases the GIL for much of it), and a writer commits the previous batch on a second connection
(one transaction per batch: delete the batch's app_id range of this partition, then bulk insert).
At most two raw batches are alive at a time (the one being parsed and the one being fetched), which
bounds memory by about twice a batch's raw bytes.

Idempotent and resumable: by default a partition resumes after the highest app_id already staged for
its remainder, and a rewritten batch replaces its own range, so a rerun never duplicates or fails on
rows already staged. That resume point is right only while ``workers`` (the modulus) stays the same until
every partition has reached its end: a remainder of another modulus mixes the ids of several old
partitions, and a failed one's gap would lie below the new resume point, its documents never staged. So
each partition run records its start and its end in ``<staging>_progress``, and ``check_modulus`` refuses
another ``workers`` whose partitions would resume past ids that such an unfinished partition has not staged.

A batch the staging table refuses (a constraint, a trigger, a value too long) fails the partition without
retries: the same rows would be refused again.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from pipelines.appxml import tables as t
from pipelines.appxml.config import DEFAULT_SOURCE_COLUMN, DEFAULT_SOURCE_TABLE, DEFAULT_STAGING_TABLE
from pipelines.appxml.metrics import PartitionMetrics
from pipelines.appxml.reading import prepare_reader
from pipelines.appxml.reduce import Reduced, reduce_document
from pipelines.common.errors import PermanentError
from pipelines.common.partitions import partition_label

log = logging.getLogger(__name__)

_POLL_S = 0.5
_RAW_BATCHES_IN_FLIGHT = 2


class StagingError(PermanentError):
    """A user error (bad settings, refused source or rows): one line, no retry helps."""


class BatchRefused(StagingError):
    """The staging table refused a batch's rows (integrity or data error): the same rows would be refused
    on every retry. The message names the partition, the app_id range and the error class, never the
    driver's text (SQL Server quotes the offending value in it)."""


@dataclass(frozen=True)
class PartitionSpec:
    """What one partition run stages. ``start_after`` overrides the resume point; ``limit`` 0 = all."""

    mod: int = 1
    rem: int = 0
    batch: int = 1000
    limit: int = 0
    start_after: int | None = None
    resume: bool = True
    source_table: str = DEFAULT_SOURCE_TABLE
    source_column: str = DEFAULT_SOURCE_COLUMN
    staging_table: str = DEFAULT_STAGING_TABLE
    force: bool = False

    @property
    def label(self) -> str:
        return partition_label(self.rem, self.mod)

    def validated(self) -> PartitionSpec:
        """Itself, or a StagingError naming the first bad setting (before anything is read or written)."""
        if self.mod < 1:
            raise StagingError(f"mod (workers) must be at least 1, got {self.mod}")
        if not 0 <= self.rem < self.mod:
            raise StagingError(f"rem must lie in 0..{self.mod - 1} for mod {self.mod}, got {self.rem}")
        if self.batch < 1:
            raise StagingError(f"batch must be at least 1, got {self.batch}")
        if self.limit < 0:
            raise StagingError(f"limit must be 0 (all) or positive, got {self.limit}")
        try:
            source, staging = t.TableName.parse(self.source_table), t.TableName.parse(self.staging_table)
            t.check_identifier(self.source_column, "source column")
        except t.StagingConfigError as exc:
            raise StagingError(str(exc)) from None
        if source == staging:
            raise StagingError(f"source and staging table are the same: {source}")
        if "staging" in source.name.lower() and not self.force:
            raise StagingError(f"refusing to read from {source}: its name says staging (use force to override)")
        return self


@dataclass
class _RawBatch:
    rows: list[tuple[int, Any]]
    low: int
    high: int


@dataclass
class _ReducedBatch:
    results: list[Reduced]
    low: int
    high: int
    source_bytes: int


class _Pipeline:
    """The reader / writer threads around the parsing loop of one partition run."""

    def __init__(self, engine: sa.Engine, spec: PartitionSpec, metrics: PartitionMetrics,
                 src: sa.Table, stg: sa.Table) -> None:
        self.engine, self.spec, self.metrics, self.src, self.stg = engine, spec, metrics, src, stg
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.raw_slots = threading.Semaphore(_RAW_BATCHES_IN_FLIGHT)
        self.raw_queue: queue.Queue[_RawBatch | None] = queue.Queue()
        self.out_queue: queue.Queue[_ReducedBatch | None] = queue.Queue(maxsize=1)
        self.started = time.monotonic()

    # -- plumbing ---------------------------------------------------------------------------------------
    def _guard(self, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # handed to the calling thread, which raises it
                self.errors.append(exc)
                self.stop.set()
        return run

    def _put(self, q: queue.Queue, item: Any) -> None:
        while not self.stop.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def _get(self, q: queue.Queue) -> Any:
        # Once any stage failed (or the task is being killed) nothing new starts: committed batches stay.
        while not self.stop.is_set():
            try:
                return q.get(timeout=_POLL_S)
            except queue.Empty:
                continue
        return None

    def _acquire_slot(self) -> bool:
        while not self.stop.is_set():
            if self.raw_slots.acquire(timeout=_POLL_S):
                return True
        return False

    # -- the three stages ------------------------------------------------------------------------------
    def read(self) -> None:
        spec, after, fetched = self.spec, self.metrics.resumed_after, 0
        column = spec.source_column
        with self.engine.connect() as conn:
            prepare_reader(conn)
            while self._acquire_slot():
                size = spec.batch if not spec.limit else min(spec.batch, spec.limit - fetched)
                rows = [] if size <= 0 else [
                    (row[0], row[1]) for row in conn.execute(
                        t.select_batch(self.src, column, spec.mod, spec.rem, after, size))]
                # End the read transaction between batches: no snapshot held for hours on the source.
                conn.rollback()
                if not rows:
                    self.raw_slots.release()
                    break
                fetched += len(rows)
                low, after = rows[0][0], rows[-1][0]
                self._put(self.raw_queue, _RawBatch(rows, low, after))
        self._put(self.raw_queue, None)

    def parse(self) -> None:
        while (raw := self._get(self.raw_queue)) is not None:
            results = [reduce_document(app_id, value) for app_id, value in raw.rows]
            source_bytes = sum(len(value) for _, value in raw.rows if value)
            low, high = raw.low, raw.high
            del raw  # the raw batch may be large: release it before the reader fetches the next one
            self.raw_slots.release()
            self._put(self.out_queue, _ReducedBatch(results, low, high, source_bytes))
            if self.stop.is_set():
                return
        self._put(self.out_queue, None)

    def write(self) -> None:
        with self.engine.connect() as conn:
            while (batch := self._get(self.out_queue)) is not None:
                rows = [{"app_id": r.app_id, t.STAGING_XML_COLUMN: r.xml} for r in batch.results if r.xml]
                self.commit_batch(conn, batch, rows)
                staged_bytes = sum(len(row[t.STAGING_XML_COLUMN]) for row in rows)
                self.metrics.record_batch(batch.results, batch.source_bytes, staged_bytes, batch.high)
                log_progress(self.metrics, time.monotonic() - self.started)

    def commit_batch(self, conn: sa.Connection, batch: _ReducedBatch, rows: list[dict[str, Any]]) -> None:
        """One transaction: the batch's app_id range of this partition is replaced by its rows."""
        try:
            with conn.begin():
                conn.execute(t.delete_range(self.stg, self.spec.mod, self.spec.rem, batch.low, batch.high))
                bulk_insert(conn, self.stg, rows)
        except Exception as exc:
            kind = refusal_kind(exc, conn.dialect)
            if kind is None:
                raise
            raise BatchRefused(f"{self.spec.label}: {self.spec.staging_table} refused the batch of app_id "
                               f"{batch.low}..{batch.high} ({kind}); {self.metrics.batches} "
                               "batch(es) committed before it stay staged") from None

    def run(self) -> None:
        threads = [threading.Thread(target=self._guard(body), name=f"appxml-{name}-{self.spec.rem}", daemon=True)
                   for name, body in (("reader", self.read), ("writer", self.write))]
        for thread in threads:
            thread.start()
        self._guard(self.parse)()
        for thread in threads:
            thread.join()
        if self.errors:
            raise self.errors[0]


def bulk_insert(conn: sa.Connection, stg: sa.Table, rows: list[dict[str, Any]]) -> None:
    """One bulk write per batch, never a round trip per row: COPY on PostgreSQL (psycopg 3), pyodbc's
    fast_executemany on SQL Server through pyodbc, multi-row INSERT ... VALUES elsewhere (pymssql, the
    MSSQL provider's driver, would otherwise send one INSERT per row)."""
    if not rows:
        return
    dialect = conn.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        _copy_rows(conn, stg, rows)
    elif dialect.name == "mssql" and dialect.driver == "pyodbc":
        conn.execute(t.insert_rows(stg), rows)
    else:
        for start in range(0, len(rows), t.ROWS_PER_INSERT):
            conn.execute(t.insert_values(stg, rows[start:start + t.ROWS_PER_INSERT]))


def _copy_rows(conn: sa.Connection, stg: sa.Table, rows: list[dict[str, Any]]) -> None:
    quote = conn.dialect.identifier_preparer
    columns = f"{quote.quote('app_id')}, {quote.quote(t.STAGING_XML_COLUMN)}"
    copy_sql = f"COPY {quote.format_table(stg)} ({columns}) FROM STDIN"
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row((row["app_id"], row[t.STAGING_XML_COLUMN]))


def log_progress(metrics: PartitionMetrics, elapsed_s: float) -> None:
    """One line per committed batch: rows done, rate, and an ETA when the partition's size is known."""
    done, rate, eta = metrics.progress(elapsed_s)
    log.info("%s batch %d: %s rows, %d staged, %d skipped, %.1f rows/s, %.1f MB/s%s", metrics.label,
             metrics.batches, done, metrics.staged, sum(metrics.skipped.values()), rate,
             metrics.source_bytes / 1e6 / elapsed_s if elapsed_s > 0 else 0.0, eta)


def resolve_tables(spec: PartitionSpec, dialect_name: str) -> tuple[sa.Table, sa.Table]:
    source = t.source_table(t.TableName.parse(spec.source_table), spec.source_column, dialect_name)
    staging = t.staging_table(t.TableName.parse(spec.staging_table), dialect_name)
    return source, staging


def resume_point(engine: sa.Engine, spec: PartitionSpec, stg: sa.Table) -> int | None:
    if spec.start_after is not None:
        return spec.start_after
    if not spec.resume:
        return None
    with engine.connect() as conn:
        return conn.execute(t.max_staged(stg, spec.mod, spec.rem)).scalar()


def refusal_kind(exc: BaseException, dialect: sa.Dialect) -> str | None:
    """``IntegrityError, SQLSTATE 23514`` when the database refused the rows themselves (an integrity or
    data error: the same rows are refused on every retry), else None. The driver's own error arrives
    wrapped by SQLAlchemy, or bare from a bulk path that talks to the driver (COPY on psycopg). Only the
    code is kept, never the driver's text: it may quote row values."""
    dbapi = dialect.loaded_dbapi
    orig = getattr(exc, "orig", exc)
    if isinstance(exc, sa.exc.IntegrityError) or isinstance(orig, dbapi.IntegrityError):
        kind = "IntegrityError"
    elif isinstance(exc, sa.exc.DataError) or isinstance(orig, dbapi.DataError):
        kind = "DataError"
    else:
        return None
    sqlstate = getattr(orig, "sqlstate", None)  # psycopg
    if sqlstate:
        return f"{kind}, SQLSTATE {sqlstate}"
    number = next(iter(getattr(orig, "args", ())), None)  # pymssql: (number, message)
    return f"{kind}, error {number}" if isinstance(number, int) else kind


def record_progress(engine: sa.Engine, spec: PartitionSpec, finished: bool) -> None:
    progress = t.progress_table(t.TableName.parse(spec.staging_table), engine.dialect.name)
    with engine.begin() as conn:
        for statement in t.record_partition(progress, spec.mod, spec.rem, finished):
            conn.execute(statement)


def unfinished_partitions(engine: sa.Engine, staging: t.TableName, mod: int) -> dict[int, list[int]]:
    """{modulus: remainders not finished} for every modulus other than ``mod`` that staged before; a
    partition that never ran counts as not finished."""
    progress = t.progress_table(staging, engine.dialect.name)
    if not sa.inspect(engine).has_table(progress.name, schema=progress.schema):
        return {}
    with engine.connect() as conn:
        rows = conn.execute(t.partitions_of_other_moduli(progress, mod)).all()
    finished: dict[int, set[int]] = {}
    for modulus, rem, done in rows:
        finished.setdefault(modulus, set()).update([rem] if done else [])
    return {modulus: sorted(set(range(modulus)) - done) for modulus, done in sorted(finished.items())
            if set(range(modulus)) - done}


def skipped_partitions(engine: sa.Engine, staging: t.TableName, mod: int,
                       remainders: Iterable[int]) -> dict[int, list[int]]:
    """{modulus: remainders} of the unfinished partitions of other moduli whose documents partitions
    ``remainders`` of ``mod`` would resume past, never to stage them.

    New partition r and old partition s share ids when r and s agree modulo gcd(mod, modulus). Old s
    staged its ids in order up to its own highest staged id, so r skips some of them only when r resumes
    after that id (r's resume point is the highest id staged in its remainder, by any partition)."""
    unfinished = unfinished_partitions(engine, staging, mod)
    if not unfinished:
        return {}
    stg = t.staging_table(staging, engine.dialect.name)
    with engine.connect() as conn:
        resume_at = dict(conn.execute(t.max_staged_per_remainder(stg, mod)).all())
        skipped = {}
        for modulus, rems in unfinished.items():
            reached = dict(conn.execute(t.max_staged_per_remainder(stg, modulus)).all())
            shared = math.gcd(mod, modulus)
            behind = [s for s in rems if any(
                resume_at.get(r) is not None and (reached.get(s) is None or reached[s] < resume_at[r])
                for r in remainders if r % shared == s % shared)]
            if behind:
                skipped[modulus] = behind
    return skipped


def check_modulus(engine: sa.Engine, staging: t.TableName, mod: int, remainders: Iterable[int]) -> None:
    """A StagingError when staging ``remainders`` of ``workers=mod`` would resume past documents that an
    unfinished partition of another ``workers`` has not staged yet."""
    skipped = skipped_partitions(engine, staging, mod, list(remainders))
    if not skipped:
        return
    listed = "; ".join(f"workers={modulus}: {', '.join(partition_label(rem, modulus) for rem in rems)}"
                       for modulus, rems in skipped.items())
    first, rems = next(iter(skipped.items()))
    raise StagingError(
        f"workers={mod} refused: partitions staged with other workers have not finished ({listed}); finish "
        f'them first, e.g. {{"workers": {first}, "remainders": {rems}}}. A partition resumes after the highest '
        "app_id staged in its remainder, so changing workers now would leave their documents unstaged")


def stage_partition(engine: sa.Engine, spec: PartitionSpec) -> PartitionMetrics:
    """Stage one partition and return its metrics. Raises StagingError for bad settings before any write,
    and ``BatchRefused`` when the staging table refuses a batch (the batches before it stay committed)."""
    spec = spec.validated()
    src, stg = resolve_tables(spec, engine.dialect.name)
    metrics = PartitionMetrics(mod=spec.mod, rem=spec.rem, batch=spec.batch)
    started = time.monotonic()
    metrics.resumed_after = resume_point(engine, spec, stg)
    with engine.connect() as conn:
        remaining = conn.execute(t.count_remaining(src, spec.mod, spec.rem, metrics.resumed_after)).scalar() or 0
    metrics.total = min(remaining, spec.limit) if spec.limit else remaining
    log.info("%s: staging %s.%s into %s, %s rows to go after app_id %s (batch %d)", spec.label, spec.source_table,
             spec.source_column, spec.staging_table, f"{metrics.total:,}", metrics.resumed_after, spec.batch)
    record_progress(engine, spec, finished=False)
    pipeline = _Pipeline(engine, spec, metrics, src, stg)
    pipeline.started = started
    pipeline.run()
    record_progress(engine, spec, finished=not spec.limit or remaining <= spec.limit)
    metrics.finish(time.monotonic() - started)
    log.info("%s done: %d processed, %d staged, skipped %s, %d id_mismatch, %.1f rows/s in %.1f s", spec.label,
             metrics.processed, metrics.staged, dict(metrics.skipped) or "none", metrics.id_mismatch,
             metrics.per_second, metrics.duration_s)
    return metrics


def iter_partitions(mod: int, remainders: list[int] | None) -> Iterator[int]:
    """The remainders to run: all of 0..mod-1, or the given ones (validated)."""
    if remainders is None:
        yield from range(mod)
        return
    bad = sorted(r for r in remainders if not 0 <= r < mod)
    if bad:
        raise StagingError(f"remainders {bad} lie outside 0..{mod - 1} for workers={mod}")
    yield from sorted(set(remainders))
