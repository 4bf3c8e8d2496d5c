"""Mapping of one partition (``app_id % mod == rem``) of the staged applications into the target tables.

Reading, mapping and writing overlap: the next keyset batch of staged rows is fetched on its own connection
(rows already logged as ``success``, or ``failed`` unless retried, are left out by the query itself) while the
calling thread parses and maps, and the previous batch commits on a second connection. At most three batches
are alive at a time, so memory is bounded by the batch, not the partition.

Each batch is one transaction holding many applications, each application one unit: its rows in every table
and its ``processing_log`` row land together. A document that cannot be mapped is a ``failed`` log row and
nothing else. A database error on a batch (a key collision, a value a column refuses) is narrowed down by
halving the batch until the applications that cause it are found; they are logged as failed, the others
land. The log row commits with the data, so a rerun (a cleared task) skips what landed and never duplicates.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from pipelines.appxml import tables as staging_tables
from pipelines.appxml.config import DEFAULT_STAGING_TABLE
from pipelines.appxml.reading import prepare_reader
from pipelines.common.errors import PermanentError
from pipelines.common.partitions import PartitionProgress, partition_label, peak_rss_mb
from pipelines.xml_mapping.documents import INSERTION, VALIDATION, Failure, Router
from pipelines.xml_mapping.mapper import CONTACT, CompiledContract, MappedApplication
from pipelines.xml_mapping.schema import STATUS_FAILED, STATUS_SUCCESS, TargetSchema, check_target

log = logging.getLogger(__name__)

#: The mapping reads what appxml staging wrote.
DEFAULT_SOURCE_TABLE = DEFAULT_STAGING_TABLE
DEFAULT_SOURCE_COLUMN = staging_tables.STAGING_XML_COLUMN
MAX_IDS = 20
MAX_REASONS = 5
_DIGITS = re.compile(r"\d+")


class MappingRunError(PermanentError):
    """Settings the partition cannot run with; one line."""


@dataclass(frozen=True)
class MappingSpec:
    mod: int = 1
    rem: int = 0
    batch: int = 500
    limit: int = 0
    retry_failed: bool = False
    source_table: str = DEFAULT_SOURCE_TABLE
    source_column: str = DEFAULT_SOURCE_COLUMN
    session_id: str | None = None

    @property
    def label(self) -> str:
        return partition_label(self.rem, self.mod)

    def validated(self) -> MappingSpec:
        if self.mod < 1:
            raise MappingRunError(f"mod (workers) must be at least 1, got {self.mod}")
        if not 0 <= self.rem < self.mod:
            raise MappingRunError(f"rem must lie in 0..{self.mod - 1} for mod {self.mod}, got {self.rem}")
        if self.batch < 1:
            raise MappingRunError(f"batch must be at least 1, got {self.batch}")
        if self.limit < 0:
            raise MappingRunError(f"limit must be 0 (all) or positive, got {self.limit}")
        try:
            staging_tables.TableName.parse(self.source_table)
            staging_tables.check_identifier(self.source_column, "source column")
        except staging_tables.StagingConfigError as exc:
            raise MappingRunError(str(exc)) from None
        return self


# -- metrics ----------------------------------------------------------------------------------------------
def reason_kind(text: str) -> str:
    """A failure reason with its ids blanked, so equal causes count together."""
    return _DIGITS.sub("#", text)


@dataclass
class MappingMetrics(PartitionProgress):
    """A mapping partition's counts: applications mapped and failed (by stage, most frequent reasons), rows
    per table."""

    succeeded: int = 0
    failed: int = 0
    failed_by_stage: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    failed_app_ids: list[int] = field(default_factory=list)
    rows_per_table: Counter = field(default_factory=Counter)
    # (table, column, kind) -> values a conversion changed or could not convert, in the mapped applications
    conversions: Counter = field(default_factory=Counter)

    def record(self, landed: list[MappedApplication], failures: list[Failure], last_app_id: int | None) -> None:
        self.batches += 1
        self.processed += len(landed) + len(failures)
        self.succeeded += len(landed)
        self.failed += len(failures)
        for app in landed:
            for table, rows in app.rows.items():
                self.rows_per_table[table] += len(rows)
            self.conversions.update(app.conversions)
        for failure in failures:
            self.failed_by_stage[failure.stage] += 1
            self.reasons[reason_kind(failure.reason)] += 1
            if len(self.failed_app_ids) < MAX_IDS:
                self.failed_app_ids.append(failure.app_id)
        if last_app_id is not None:
            self.last_app_id = last_app_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition": self.label, "mod": self.mod, "rem": self.rem, "batch": self.batch,
            "processed": self.processed, "succeeded": self.succeeded, "failed": self.failed,
            "failed_by_stage": dict(self.failed_by_stage), "top_reasons": [{"reason": reason, "count": count}
                                                        for reason, count in self.reasons.most_common(MAX_REASONS)],
            "failed_app_ids": self.failed_app_ids, "rows_per_table": dict(self.rows_per_table),
            "conversions": conversions_by_column(self.conversions),
            "batches": self.batches, "last_app_id": self.last_app_id, "duration_s": self.duration_s,
            "docs_per_sec": self.per_second, "finished_at": self.finished_at, "peak_rss_mb": peak_rss_mb(),
        }


def conversions_by_column(counts: Counter) -> dict[str, dict[str, int]]:
    """``{"table.column": {kind: values}}``, sorted, for XCom and the summary."""
    by_column: dict[str, dict[str, int]] = {}
    for (table, column, kind), count in sorted(counts.items()):
        by_column.setdefault(f"{table}.{column}", {})[kind] = count
    return by_column


def log_progress(metrics: MappingMetrics, elapsed_s: float) -> None:
    done, rate, eta = metrics.progress(elapsed_s)
    log.info("%s batch %d: %s applications, %d mapped, %d failed, %.1f apps/s%s", metrics.label, metrics.batches,
             done, metrics.succeeded, metrics.failed, rate, eta)


# -- reading ----------------------------------------------------------------------------------------------
def _skip_logged(source: sa.Table, plog: sa.Table, retry_failed: bool) -> sa.ColumnElement[bool]:
    statuses = [STATUS_SUCCESS] if retry_failed else [STATUS_SUCCESS, STATUS_FAILED]
    logged = sa.select(sa.literal(1)).where(plog.c.app_id == source.c.app_id, plog.c.status.in_(statuses))
    return ~sa.exists(logged)


def select_batch(source: sa.Table, column: str, plog: sa.Table, spec: MappingSpec, after: int | None,
                 size: int) -> sa.Select:
    """The next keyset page of the partition: staged rows above ``after`` not logged yet."""
    query = (sa.select(source.c.app_id, source.c[column])
             .where(staging_tables.in_partition(source.c.app_id, spec.mod, spec.rem),
                    _skip_logged(source, plog, spec.retry_failed)))
    if after is not None:
        query = query.where(source.c.app_id > after)
    return query.order_by(source.c.app_id).limit(size)


def count_pending(source: sa.Table, plog: sa.Table, spec: MappingSpec) -> sa.Select:
    return (sa.select(sa.func.count()).select_from(source)
            .where(staging_tables.in_partition(source.c.app_id, spec.mod, spec.rem),
                   _skip_logged(source, plog, spec.retry_failed)))


# -- writing ----------------------------------------------------------------------------------------------
class _BatchRefused(Exception):
    """A database error on a batch that narrowing can attribute to applications."""

    def __init__(self, table: str, exc: BaseException) -> None:
        super().__init__(table)
        self.table, self.exc = table, exc

    def describe(self) -> str:
        """The error's class, SQLSTATE, table and constraint or column: never the refused value."""
        orig = getattr(self.exc, "orig", None) or self.exc
        diag = getattr(orig, "diag", None)
        parts = [type(orig).__name__, f"on {self.table}"]
        state = getattr(orig, "sqlstate", None) or getattr(diag, "sqlstate", None)
        if state:
            parts.append(f"(SQLSTATE {state})")
        for attribute in ("constraint_name", "column_name"):
            value = getattr(diag, attribute, None) if diag is not None else None
            if value:
                parts.append(f"{attribute.split('_')[0]} {value}")
        return " ".join(parts)


def _is_connection_error(exc: BaseException, conn: sa.Connection) -> bool:
    if isinstance(exc, sa.exc.DBAPIError):
        return exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError)
    dbapi = conn.dialect.dbapi
    return dbapi is not None and isinstance(exc, getattr(dbapi, "OperationalError", ()))


def _group_rows(apps: list[MappedApplication], order: list[str]) -> list[tuple[str, tuple[str, ...], list[tuple]]]:
    """(table, columns, rows) per table in insertion order, rows of equal column sets together."""
    by_table: dict[str, dict[tuple[str, ...], list[tuple]]] = {}
    for app in apps:
        for table, rows in app.rows.items():
            groups = by_table.setdefault(table, {})
            for row in rows:
                columns = tuple(row)
                groups.setdefault(columns, []).append(tuple(row.values()))
    out = []
    for table in order + [t for t in by_table if t not in order]:
        for columns, rows in by_table.get(table, {}).items():
            out.append((table, columns, rows))
    return out


class Writer:
    """Writes batches of mapped applications with the engine's bulk path."""

    def __init__(self, target: TargetSchema, contact_tables: set[str], session_id: str | None) -> None:
        self.target = target
        self.contact_tables = contact_tables
        self.session_id = session_id

    # -- bulk paths ------------------------------------------------------------------------------------
    def _insert(self, conn: sa.Connection, table: sa.Table, columns: tuple[str, ...], rows: list[tuple]) -> None:
        dialect = conn.dialect
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            quote = dialect.identifier_preparer
            names = ", ".join(quote.quote(name) for name in columns)
            sql = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
            with conn.connection.driver_connection.cursor() as cursor, cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        if dialect.name == "mssql" and dialect.driver == "pyodbc":
            conn.execute(sa.insert(table), records)  # fast_executemany: one array-bound round trip
            return
        # Multi-row INSERT ... VALUES, under SQL Server's 2,100 parameters and 1,000 rows per statement.
        step = max(1, min(1000, 2000 // max(1, len(columns))))
        for start in range(0, len(records), step):
            conn.execute(sa.insert(table).values(records[start:start + step]))

    def _log_rows(self, conn: sa.Connection, landed: list[MappedApplication], failures: list[Failure]) -> None:
        rows = [(app.app_id, STATUS_SUCCESS, None, self.session_id) for app in landed]
        rows += [(failure.app_id, STATUS_FAILED, failure.reason, self.session_id) for failure in failures]
        if rows:
            self._insert(conn, self.target.processing_log, ("app_id", "status", "failure_reason", "session_id"),
                         rows)

    def _commit(self, conn: sa.Connection, apps: list[MappedApplication], failures: list[Failure]) -> None:
        with conn.begin():
            for table, columns, rows in _group_rows(apps, self.target.order):
                try:
                    self._insert(conn, self.target.tables[table], columns, rows)
                except Exception as exc:
                    if _is_connection_error(exc, conn) or not _is_database_error(exc, conn):
                        raise
                    raise _BatchRefused(table, exc) from exc
            self._log_rows(conn, apps, failures)

    # -- checks and narrowing --------------------------------------------------------------------------
    def owned_con_ids(self, conn: sa.Connection, apps: list[MappedApplication]) -> list[Failure]:
        """Applications whose con_id another application owns (in the database or earlier in the batch)."""
        wanted = {con_id for app in apps for con_id in app.con_ids}
        owners: dict[int, int] = {}
        ids = sorted(wanted)
        for name in self.contact_tables:
            table = self.target.tables[name]
            for start in range(0, len(ids), 1000):
                chunk = ids[start:start + 1000]
                owners.update(conn.execute(sa.select(table.c.con_id, table.c.app_id)
                                           .where(table.c.con_id.in_(chunk))).all())
        conn.rollback()
        failures = []
        for app in apps:
            taken = [(con_id, owners[con_id]) for con_id in app.con_ids
                     if con_id in owners and owners[con_id] != app.app_id]
            if taken:
                named = ", ".join(f"con_id {con_id} belongs to app_id {owner}" for con_id, owner in taken[:3])
                failures.append(Failure(app.app_id, VALIDATION, named))
            else:
                for con_id in app.con_ids:
                    owners.setdefault(con_id, app.app_id)
        return failures

    def write(self, conn: sa.Connection, apps: list[MappedApplication], failures: list[Failure]
              ) -> tuple[list[MappedApplication], list[Failure]]:
        """Commit a batch; returns (landed applications, failures including those narrowed down)."""
        refused = self.owned_con_ids(conn, apps) if self.contact_tables else []
        if refused:
            bad = {failure.app_id for failure in refused}
            apps = [app for app in apps if app.app_id not in bad]
            failures = failures + refused
        try:
            self._commit(conn, apps, failures)
            return apps, failures
        except _BatchRefused as exc:
            log.warning("A batch of %d applications was refused (%s): narrowing it down", len(apps), exc.describe())
        landed: list[MappedApplication] = []
        narrowed: list[Failure] = []
        self._narrow(conn, apps, landed, narrowed)
        all_failures = failures + narrowed
        with conn.begin():
            self._log_rows(conn, [], all_failures)
        return landed, all_failures

    def _narrow(self, conn: sa.Connection, apps: list[MappedApplication], landed: list[MappedApplication],
                failed: list[Failure]) -> None:
        """Halve until each refused application is alone; every half that goes through is committed."""
        if not apps:
            return
        try:
            self._commit(conn, apps, [])
            landed.extend(apps)
            return
        except _BatchRefused as exc:
            if len(apps) == 1:
                failed.append(Failure(apps[0].app_id, INSERTION, exc.describe()))
                return
        middle = len(apps) // 2
        self._narrow(conn, apps[:middle], landed, failed)
        self._narrow(conn, apps[middle:], landed, failed)


def _is_database_error(exc: BaseException, conn: sa.Connection) -> bool:
    dbapi = conn.dialect.dbapi
    return isinstance(exc, sa.exc.DBAPIError) or (dbapi is not None and isinstance(exc, dbapi.Error))


# -- the partition ----------------------------------------------------------------------------------------
@dataclass
class _Batch:
    rows: list[tuple[int, Any]]
    last: int


class _Partition:
    """Reads, maps and writes one partition with the next read and the previous write in flight.

    Two helper threads (a pool of two) run the keyset read of batch n+1 and the commit of batch n-1 while the
    calling thread maps batch n: the reader and the writer each keep their own connection, used by one
    thread at a time. At most three batches are alive, so memory is bounded by the batch."""

    def __init__(self, engine: sa.Engine, spec: MappingSpec, contracts: list[CompiledContract],
                 target: TargetSchema, metrics: MappingMetrics) -> None:
        self.engine, self.spec, self.target, self.metrics = engine, spec, target, metrics
        self.router = Router(contracts)
        name = staging_tables.TableName.parse(spec.source_table)
        self.source = (staging_tables.staging_table(name, engine.dialect.name)
                       if spec.source_column == staging_tables.STAGING_XML_COLUMN
                       else staging_tables.source_table(name, spec.source_column, engine.dialect.name))
        contact_tables = {plan.table for c in contracts for plan in c.tables if plan.kind == CONTACT}
        self.writer = Writer(target, contact_tables, spec.session_id)
        self.started = time.monotonic()
        self.fetched = 0

    def read(self, conn: sa.Connection, after: int | None) -> _Batch | None:
        spec = self.spec
        size = spec.batch if not spec.limit else min(spec.batch, spec.limit - self.fetched)
        if size <= 0:
            return None
        query = select_batch(self.source, spec.source_column, self.target.processing_log, spec, after, size)
        rows = [(row[0], row[1]) for row in conn.execute(query)]
        conn.rollback()  # no snapshot held between batches
        self.fetched += len(rows)
        return _Batch(rows, rows[-1][0]) if rows else None

    def map(self, batch: _Batch) -> tuple[list[MappedApplication], list[Failure]]:
        apps: list[MappedApplication] = []
        failures: list[Failure] = []
        for app_id, document in batch.rows:
            result = self.router.map(app_id, document)
            (failures if isinstance(result, Failure) else apps).append(result)
        return apps, failures

    def write(self, conn: sa.Connection, apps: list[MappedApplication], failures: list[Failure],
              last: int) -> None:
        landed, failed = self.writer.write(conn, apps, failures)
        self.metrics.record(landed, failed, last)
        log_progress(self.metrics, time.monotonic() - self.started)

    def run(self) -> None:
        with self.engine.connect() as reader, self.engine.connect() as writer, \
                ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"xml-mapping-{self.spec.rem}") as pool:
            prepare_reader(reader)
            next_read = pool.submit(self.read, reader, None)
            pending: Future | None = None
            try:
                while (batch := next_read.result()) is not None:
                    next_read = pool.submit(self.read, reader, batch.last)
                    apps, failures = self.map(batch)
                    last = batch.last
                    del batch  # release the raw documents before the next batch arrives
                    if pending is not None:
                        pending.result()  # the previous commit, and its error if it failed
                    pending = pool.submit(self.write, writer, apps, failures, last)
                if pending is not None:
                    pending.result()
            finally:
                for future in (next_read, pending):
                    if future is not None:
                        future.cancel()


def map_partition(engine: sa.Engine, contracts: list[CompiledContract], target: TargetSchema,
                  spec: MappingSpec) -> MappingMetrics:
    """Map one partition and return its metrics. Bad settings raise ``MappingRunError``, existing target tables
    that do not match the contracts ``TargetSchemaMismatch``, both before any write."""
    spec = spec.validated()
    check_target(engine, target)  # a table that cannot take the contract's values refuses the partition here
    metrics = MappingMetrics(mod=spec.mod, rem=spec.rem, batch=spec.batch)
    started = time.monotonic()
    partition = _Partition(engine, spec, contracts, target, metrics)
    with engine.connect() as conn:
        pending = conn.execute(count_pending(partition.source, target.processing_log, spec)).scalar() or 0
    metrics.total = min(pending, spec.limit) if spec.limit else pending
    log.info("%s: mapping %s applications from %s into %s (batch %d, retry_failed=%s)", spec.label,
             f"{metrics.total:,}", spec.source_table, target.schema, spec.batch, spec.retry_failed)
    partition.started = started
    partition.run()
    metrics.finish(time.monotonic() - started)
    log.info("%s done: %d processed, %d mapped, %d failed %s, %.1f apps/s in %.1f s", spec.label, metrics.processed,
             metrics.succeeded, metrics.failed, dict(metrics.failed_by_stage) or "", metrics.per_second,
             metrics.duration_s)
    return metrics
