"""Mapping of one partition (``app_id % mod == rem``) of the staged applications into the target tables.

Reading, mapping and writing overlap (``pipelines.common.database.batches``): the next keyset batch of staged
rows is fetched on its own connection (rows already logged as ``success``, or ``failed`` unless retried, are
left out by the query itself) while the calling thread parses and maps, and the previous batch commits on a
second connection (``writer``). Memory is bounded by the batch, not the partition.

A document that cannot be mapped is a ``failed`` log row and nothing else. The log row commits with the data,
so a rerun (a cleared task) skips what landed and never duplicates.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlalchemy as sa

from pipelines.appxml import tables as staging_tables  # the staging table's shape: what the mapping reads
from pipelines.common.database.batches import KeysetPages, Overlap, RawBatch
from pipelines.common.database.tables import TableName, TableNameError, check_identifier, in_partition
from pipelines.common.partitions import PartitionError, PartitionSpec, log_progress
from pipelines.xml_mapping.config import DEFAULT_SOURCE_COLUMN, DEFAULT_SOURCE_TABLE, MappingSettings
from pipelines.xml_mapping.documents import Failure, Router
from pipelines.xml_mapping.errors import MappingRunError
from pipelines.xml_mapping.mapper import CONTACT, CompiledContract, MappedApplication
from pipelines.xml_mapping.metrics import MappingMetrics
from pipelines.xml_mapping.target_tables import STATUS_FAILED, STATUS_SUCCESS, TargetSchema, check_target
from pipelines.xml_mapping.writer import Writer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MappingSpec(PartitionSpec):
    error: ClassVar[type[PartitionError]] = MappingRunError

    batch: int = 500
    retry_failed: bool = False
    source_table: str = DEFAULT_SOURCE_TABLE
    source_column: str = DEFAULT_SOURCE_COLUMN
    session_id: str | None = None

    def validated(self) -> MappingSpec:
        """Itself, or a MappingRunError naming the first bad setting (before anything is read or written)."""
        self.check_partition()
        try:
            TableName.parse(self.source_table)
            check_identifier(self.source_column, "source column")
        except TableNameError as exc:
            self.refuse(str(exc))
        return self


def spec_for(entry: dict[str, Any], settings: MappingSettings, session_id: str | None = None) -> MappingSpec:
    """The spec of a planned partition (an entry of the plan task) with the deployment's source table."""
    return MappingSpec(mod=entry["mod"], rem=entry["rem"], batch=entry["batch"], limit=entry["limit"],
                       retry_failed=entry["retry_failed"], source_table=settings.source_table,
                       source_column=settings.source_column, session_id=session_id)


# -- reading ----------------------------------------------------------------------------------------------
def _skip_logged(source: sa.Table, plog: sa.Table, retry_failed: bool) -> sa.ColumnElement[bool]:
    statuses = [STATUS_SUCCESS] if retry_failed else [STATUS_SUCCESS, STATUS_FAILED]
    logged = sa.select(sa.literal(1)).where(plog.c.app_id == source.c.app_id, plog.c.status.in_(statuses))
    return ~sa.exists(logged)


def select_batch(source: sa.Table, column: str, plog: sa.Table, spec: MappingSpec, after: int | None,
                 size: int) -> sa.Select:
    """The next keyset page of the partition: staged rows above ``after`` not logged yet."""
    query = (sa.select(source.c.app_id, source.c[column])
             .where(in_partition(source.c.app_id, spec.mod, spec.rem),
                    _skip_logged(source, plog, spec.retry_failed)))
    if after is not None:
        query = query.where(source.c.app_id > after)
    return query.order_by(source.c.app_id).limit(size)


def count_pending(source: sa.Table, plog: sa.Table, spec: MappingSpec) -> sa.Select:
    return (sa.select(sa.func.count()).select_from(source)
            .where(in_partition(source.c.app_id, spec.mod, spec.rem),
                   _skip_logged(source, plog, spec.retry_failed)))


# -- the partition ----------------------------------------------------------------------------------------
def source_table(spec: MappingSpec, dialect_name: str) -> sa.Table:
    """The staged documents: appxml's staging table, or a table of the same shape with another column."""
    name = TableName.parse(spec.source_table)
    if spec.source_column == staging_tables.STAGING_XML_COLUMN:
        return staging_tables.staging_table(name, dialect_name)
    return staging_tables.source_table(name, spec.source_column, dialect_name)


@dataclass
class _Mapped:
    apps: list[MappedApplication]
    failures: list[Failure]
    last: int


class _Partition:
    """The transform (map) and the write of one partition run, for the overlap runner."""

    def __init__(self, spec: MappingSpec, contracts: list[CompiledContract], target: TargetSchema,
                 metrics: MappingMetrics, started: float) -> None:
        self.spec, self.metrics, self.started = spec, metrics, started
        self.router = Router(contracts)
        contact_tables = {plan.table for c in contracts for plan in c.tables if plan.kind == CONTACT}
        self.writer = Writer(target, contact_tables, spec.session_id)

    def map(self, batch: RawBatch) -> _Mapped:
        mapped = _Mapped([], [], batch.high)
        for app_id, document in batch.rows:
            result = self.router.map(app_id, document)
            (mapped.failures if isinstance(result, Failure) else mapped.apps).append(result)
        return mapped

    def write(self, conn: sa.Connection, mapped: _Mapped) -> None:
        landed, failed = self.writer.write(conn, mapped.apps, mapped.failures)
        self.metrics.record(landed, failed, mapped.last)
        log_progress(self.metrics, time.monotonic() - self.started)


def map_partition(engine: sa.Engine, contracts: list[CompiledContract], target: TargetSchema,
                  spec: MappingSpec) -> MappingMetrics:
    """Map one partition and return its metrics. Bad settings raise ``MappingRunError``, existing target tables
    that do not match the contracts ``TargetSchemaMismatch``, both before any write."""
    spec = spec.validated()
    check_target(engine, target)  # a table that cannot take the contract's values refuses the partition here
    metrics = MappingMetrics(mod=spec.mod, rem=spec.rem, batch=spec.batch)
    started = time.monotonic()
    source = source_table(spec, engine.dialect.name)
    with engine.connect() as conn:
        pending = conn.execute(count_pending(source, target.processing_log, spec)).scalar() or 0
    metrics.total = spec.planned_total(pending)
    log.info("%s: mapping %s applications from %s into %s (batch %d, retry_failed=%s)", spec.label,
             f"{metrics.total:,}", spec.source_table, target.schema, spec.batch, spec.retry_failed)
    partition = _Partition(spec, contracts, target, metrics, started)
    pages = KeysetPages(lambda after, size: select_batch(source, spec.source_column, target.processing_log, spec,
                                                         after, size), spec.batch, spec.limit)
    Overlap(pages, partition.map, partition.write, f"xml-mapping-{spec.rem}").run(engine, None)
    metrics.finish(time.monotonic() - started)
    log.info("%s done: %d processed, %d mapped, %d failed %s, %.1f apps/s in %.1f s", spec.label, metrics.processed,
             metrics.succeeded, metrics.failed, dict(metrics.failed_by_stage) or "", metrics.per_second,
             metrics.duration_s)
    return metrics
