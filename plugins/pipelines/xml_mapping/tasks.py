"""Task bodies of the ``appxml_mapping`` DAG. Each takes plain values and returns JSON-able results (XCom);
settings and contracts are read when a task runs, never when the DAG is parsed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from pipelines.common import lineage, metrics
from pipelines.common.database.engines import engine_from_conn_id
from pipelines.common.errors import fail_without_retry, require_connection
from pipelines.common.mapped import label_mapped_instance, mapped_results
from pipelines.common.partitions import partition_label, plan_remainders
from pipelines.xml_mapping import partition
from pipelines.xml_mapping.config import MappingSettings, load_contracts, load_settings
from pipelines.xml_mapping.datasets import staging_datasets, target_datasets
from pipelines.xml_mapping.errors import MappingRunError
from pipelines.xml_mapping.mapper import CompiledContract
from pipelines.xml_mapping.metrics import aggregate
from pipelines.xml_mapping.target_tables import TargetSchema, build_schema, ensure_schema, report_and_dispose

log = logging.getLogger(__name__)


@fail_without_retry
def plan(params: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per partition to map; bad params, settings or contracts fail here, before any write."""
    # The conf first, then the configuration and the connection: a bad conf is refused whatever they are.
    workers, batch, limit = int(params["workers"]), int(params["batch"]), int(params["limit"])
    remainders = plan_remainders(workers, params.get("remainders"), MappingRunError)
    settings = load_settings()
    contracts = load_contracts(settings.contract_paths())
    require_connection(settings.conn_id)
    entries = [{"mod": workers, "rem": rem, "batch": batch, "limit": limit,
                "retry_failed": bool(params.get("retry_failed"))} for rem in remainders]
    for entry in entries:
        partition.spec_for(entry, settings).validated()
    log.info("Mapping %d partition(s) of %d with %s", len(entries), workers,
             ", ".join(contract.name for contract in contracts))
    report_target(settings.conn_id, contracts)
    return entries


def report_target(conn_id: str, contracts: list) -> dict[str, Any]:
    """Log what the run will find in the target (tables to create, columns that will refuse the partitions),
    for the DBA; it refuses nothing itself: the partitions do, before writing."""
    found: dict[str, Any] = report_and_dispose(engine_from_conn_id(conn_id), contracts)
    log.info("Target schema %s: %d of %d tables to create%s", found["schema"], len(found["missing_tables"]),
             found["tables"], f" ({', '.join(found['missing_tables'])})" if found["missing_tables"] else "")
    for line in found["mismatched_columns"]:
        log.warning("Target column does not match the contracts (its partitions will be refused): %s", line)
    return found


@fail_without_retry
def ensure_target_schema() -> None:
    with mapping_target() as (_settings, _contracts, engine, target):
        ensure_schema(engine, target)


@fail_without_retry
def map_partition(entry: dict[str, Any]) -> dict[str, Any]:
    """Map one partition (a mapped task) on its own engine and connections; returns its metrics."""
    label = partition_label(entry["rem"], entry["mod"])
    run_id = label_mapped_instance(label)["run_id"]
    with mapping_target() as (settings, contracts, engine, target):
        lineage.declare(staging_datasets(settings), target_datasets(settings.conn_id, target))
        spec = partition.spec_for(entry, settings, f"{run_id}:{label}"[-100:])
        result = partition.map_partition(engine, contracts, target, spec).to_dict()
    lineage.declare(outputs=target_datasets(settings.conn_id, target, result["rows_per_table"]))
    metrics.mapping_partition(result)
    return result


@contextmanager
def mapping_target() -> Iterator[tuple[MappingSettings, list[CompiledContract], sa.Engine, TargetSchema]]:
    """The settings, the compiled contracts, an engine on the mapping database (disposed after) and the
    target tables the contracts need in its dialect."""
    settings = load_settings()
    contracts = load_contracts(settings.contract_paths())
    engine = engine_from_conn_id(settings.conn_id)
    try:
        yield settings, contracts, engine, build_schema(contracts, engine.dialect.name)
    finally:
        engine.dispose()


@fail_without_retry
def summarize(partitions: list[dict[str, Any]]) -> dict[str, Any]:
    """Applications mapped and failed, failures by stage with the most frequent reasons, rows per table."""
    partitions = mapped_results(partitions)
    totals = aggregate(partitions)
    log.info("Mapped %d, failed %d %s; %.1f apps/s", totals["mapped"], totals["failed"],
             totals["failed_by_stage"] or "", totals["docs_per_sec"])
    for entry in totals["top_reasons"]:
        log.info("  %5d x %s", entry["count"], entry["reason"])
    for table, count in totals["rows_per_table"].items():
        log.info("  %-32s %8d rows", table, count)
    for column_kind, count in totals["conversions"].items():  # documented in the mapping docs: "Conversions"
        log.info("  converted: %-48s %8d values", column_kind, count)
    return totals
