"""What each task of the ``appxml_staging`` DAG does, kept out of the DAG file so it stays a table of
contents. Task bodies take plain values and return JSON-able results (XCom); a ``PermanentError`` (bad
params, a missing connection, a refused batch) fails the task at once, without retries."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from pipelines.appxml import ddl, staging
from pipelines.appxml.config import CONN_ID, load_settings
from pipelines.appxml.metrics import aggregate, format_table
from pipelines.appxml.modulus import check_modulus
from pipelines.appxml.plan import plan_partitions, spec_for
from pipelines.common import lineage, metrics
from pipelines.common.database.engines import engine_from_conn_id
from pipelines.common.database.tables import TableName
from pipelines.common.errors import fail_without_retry, require_connection
from pipelines.common.mapped import label_mapped_instance, mapped_results
from pipelines.common.partitions import partition_label

log = logging.getLogger(__name__)


def _with_engine(action: Callable[[sa.Engine, TableName], None], conn_id: str) -> None:
    engine = engine_from_conn_id(conn_id)
    try:
        action(engine, TableName.parse(load_settings().staging_table))
    finally:
        engine.dispose()


def _index_step(params: dict[str, Any], param: str, action: Callable[[sa.Engine, TableName], None],
                when_off: str, conn_id: str) -> None:
    if params[param]:
        _with_engine(action, conn_id)
    else:
        log.info("%s is off: %s", param, when_off)


# -- task bodies ---------------------------------------------------------------------------------------

@fail_without_retry
def plan(params: dict[str, Any], conn_id: str = CONN_ID) -> list[dict[str, int]]:
    """A missing connection, a bad param or a ``workers`` that would skip documents (``check_modulus``) is
    one clear error in the first task, before anything is written."""
    entries = plan_partitions(params)  # the conf first: a bad one is refused whatever the connection
    require_connection(conn_id)
    remainders = [entry["rem"] for entry in entries]
    _with_engine(lambda engine, staging: check_modulus(engine, staging, int(params["workers"]), remainders),
                 conn_id)
    return entries


@fail_without_retry
def ensure_staging_table(conn_id: str = CONN_ID) -> None:
    _with_engine(ddl.ensure_staging_table, conn_id)


@fail_without_retry
def drop_index(params: dict[str, Any], conn_id: str = CONN_ID) -> None:
    _index_step(params, "drop_index", ddl.drop_staging_index, "the staging index stays in place", conn_id)


@fail_without_retry
def recreate_index(params: dict[str, Any], conn_id: str = CONN_ID) -> None:
    _index_step(params, "recreate_index", ddl.create_staging_index, "the staging index is not rebuilt", conn_id)


@fail_without_retry
def stage_partition(entry: dict[str, int], conn_id: str = CONN_ID) -> dict[str, Any]:
    """Stage one partition (a mapped task) on its own engine and connections; returns its metrics."""
    label_mapped_instance(partition_label(entry["rem"], entry["mod"]))
    settings = load_settings()
    lineage.declare([lineage.table(conn_id, settings.source_table)], [lineage.table(conn_id, settings.staging_table)])
    engine = engine_from_conn_id(conn_id)
    try:
        result = staging.stage_partition(engine, spec_for(entry)).to_dict()
    finally:
        engine.dispose()
    lineage.declare(outputs=[lineage.table(conn_id, settings.staging_table, rows=result["staged"], describe=True)])
    metrics.appxml_partition(result)
    return result


@fail_without_retry
def summarize(partitions: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals of the run (the fields of the original appxml_aggregate.json), the per-partition table logged."""
    totals = aggregate(mapped_results(partitions))
    log.info("Per partition:\n%s", format_table(totals["partitions"]))
    log.info("Total: %d processed, %d staged, skipped %s, %d id_mismatch, %.1f MB read, %.1f rows/s",
             totals["processed"], totals["staged"], totals["skipped"] or "none", totals["id_mismatch"],
             totals["source_bytes"] / 1e6, totals["rows_per_sec"])
    return totals
