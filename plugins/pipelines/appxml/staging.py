"""Staging of one partition (``app_id % mod == rem``): keyset reads, reduction, bulk writes.

Reading, parsing and writing overlap (``pipelines.common.database.batches``): the next keyset batch is
fetched on its own connection while the calling thread parses (lxml releases the GIL for much of it), and the
previous batch commits on a second connection (one transaction per batch: delete the batch's app_id range of
this partition, then bulk insert). Memory is bounded by about twice a batch's raw bytes.

Idempotent and resumable: by default a partition resumes after the highest app_id already staged for its
remainder, and a rewritten batch replaces its own range, so a rerun never duplicates or fails on rows already
staged. Which ``workers`` may resume safely is ``modulus``'s business.

A batch the staging table refuses (a constraint, a trigger, a value too long) fails the partition without
retries: the same rows would be refused again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlalchemy as sa

from pipelines.appxml import tables as t
from pipelines.appxml.config import DEFAULT_SOURCE_COLUMN, DEFAULT_SOURCE_TABLE, DEFAULT_STAGING_TABLE
from pipelines.appxml.errors import BatchRefused, StagingError
from pipelines.appxml.metrics import PartitionMetrics
from pipelines.appxml.modulus import record_progress
from pipelines.appxml.reduce import Reduced, reduce_document
from pipelines.common.database.batches import KeysetPages, Overlap, RawBatch
from pipelines.common.database.bulk import bulk_insert
from pipelines.common.database.errors import refusal_kind
from pipelines.common.database.tables import TableName, TableNameError, check_identifier
from pipelines.common.partitions import PartitionError, PartitionSpec, log_progress

log = logging.getLogger(__name__)

#: The staging table's columns, in the order a batch's rows are written.
STAGED_COLUMNS = ("app_id", t.STAGING_XML_COLUMN)


@dataclass(frozen=True)
class StagingSpec(PartitionSpec):
    """What one partition run stages. ``start_after`` overrides the resume point; ``limit`` 0 = all."""

    error: ClassVar[type[PartitionError]] = StagingError

    start_after: int | None = None
    resume: bool = True
    source_table: str = DEFAULT_SOURCE_TABLE
    source_column: str = DEFAULT_SOURCE_COLUMN
    staging_table: str = DEFAULT_STAGING_TABLE
    force: bool = False

    def validated(self) -> StagingSpec:
        """Itself, or a StagingError naming the first bad setting (before anything is read or written)."""
        self.check_partition()
        try:
            source, staging = TableName.parse(self.source_table), TableName.parse(self.staging_table)
            check_identifier(self.source_column, "source column")
        except TableNameError as exc:
            self.refuse(str(exc))
        if source == staging:
            self.refuse(f"source and staging table are the same: {source}")
        if "staging" in source.name.lower() and not self.force:
            self.refuse(f"refusing to read from {source}: its name says staging (use force to override)")
        return self


@dataclass
class _ReducedBatch:
    results: list[Reduced]
    low: int
    high: int
    source_bytes: int


class _Staging:
    """The transform and the write of one partition run, for the overlap runner."""

    def __init__(self, spec: StagingSpec, metrics: PartitionMetrics, stg: sa.Table, started: float) -> None:
        self.spec, self.metrics, self.stg, self.started = spec, metrics, stg, started

    def reduce(self, raw: RawBatch) -> _ReducedBatch:
        results = [reduce_document(app_id, value) for app_id, value in raw.rows]
        source_bytes = sum(len(value) for _, value in raw.rows if value)
        return _ReducedBatch(results, raw.low, raw.high, source_bytes)

    def write(self, conn: sa.Connection, batch: _ReducedBatch) -> None:
        rows = [(r.app_id, r.xml) for r in batch.results if r.xml]
        self.commit_batch(conn, batch, rows)
        staged_bytes = sum(len(xml) for _, xml in rows)
        self.metrics.record_batch(batch.results, batch.source_bytes, staged_bytes, batch.high)
        log_progress(self.metrics, time.monotonic() - self.started)

    def commit_batch(self, conn: sa.Connection, batch: _ReducedBatch, rows: list[tuple[int, Any]]) -> None:
        """One transaction: the batch's app_id range of this partition is replaced by its rows."""
        try:
            with conn.begin():
                conn.execute(t.delete_range(self.stg, self.spec.mod, self.spec.rem, batch.low, batch.high))
                bulk_insert(conn, self.stg, STAGED_COLUMNS, rows)
        except Exception as exc:
            kind = refusal_kind(exc, conn.dialect)
            if kind is None:
                raise
            raise BatchRefused(f"{self.spec.label}: {self.spec.staging_table} refused the batch of app_id "
                               f"{batch.low}..{batch.high} ({kind}); {self.metrics.batches} "
                               "batch(es) committed before it stay staged") from None


def resolve_tables(spec: StagingSpec, dialect_name: str) -> tuple[sa.Table, sa.Table]:
    source = t.source_table(TableName.parse(spec.source_table), spec.source_column, dialect_name)
    staging = t.staging_table(TableName.parse(spec.staging_table), dialect_name)
    return source, staging


def resume_point(engine: sa.Engine, spec: StagingSpec, stg: sa.Table) -> int | None:
    if spec.start_after is not None:
        return spec.start_after
    if not spec.resume:
        return None
    with engine.connect() as conn:
        return conn.execute(t.max_staged(stg, spec.mod, spec.rem)).scalar()


def stage_partition(engine: sa.Engine, spec: StagingSpec) -> PartitionMetrics:
    """Stage one partition and return its metrics. Raises StagingError for bad settings before any write,
    and ``BatchRefused`` when the staging table refuses a batch (the batches before it stay committed)."""
    spec = spec.validated()
    src, stg = resolve_tables(spec, engine.dialect.name)
    staging_name = TableName.parse(spec.staging_table)
    metrics = PartitionMetrics(mod=spec.mod, rem=spec.rem, batch=spec.batch)
    started = time.monotonic()
    metrics.resumed_after = resume_point(engine, spec, stg)
    with engine.connect() as conn:
        remaining = conn.execute(t.count_remaining(src, spec.mod, spec.rem, metrics.resumed_after)).scalar() or 0
    metrics.total = spec.planned_total(remaining)
    log.info("%s: staging %s.%s into %s, %s rows to go after app_id %s (batch %d)", spec.label, spec.source_table,
             spec.source_column, spec.staging_table, f"{metrics.total:,}", metrics.resumed_after, spec.batch)
    record_progress(engine, staging_name, spec.mod, spec.rem, finished=False)
    staging = _Staging(spec, metrics, stg, started)
    pages = KeysetPages(lambda after, size: t.select_batch(src, spec.source_column, spec.mod, spec.rem, after, size),
                        spec.batch, spec.limit)
    Overlap(pages, staging.reduce, staging.write, f"appxml-{spec.rem}").run(engine, metrics.resumed_after)
    record_progress(engine, staging_name, spec.mod, spec.rem, finished=not spec.limit or remaining <= spec.limit)
    metrics.finish(time.monotonic() - started)
    log.info("%s done: %d processed, %d staged, skipped %s, %d id_mismatch, %.1f rows/s in %.1f s", spec.label,
             metrics.processed, metrics.staged, dict(metrics.skipped) or "none", metrics.id_mismatch,
             metrics.per_second, metrics.duration_s)
    return metrics
