"""What each task of the ``appxml_staging`` DAG does, kept out of the DAG file so it stays a table of
contents. Functions take plain values and return JSON-able results (XCom)."""

from __future__ import annotations

import logging
import os
from typing import Any

from pipelines.appxml import ddl
from pipelines.appxml.engines import CONN_ID, engine_from_conn_id
from pipelines.appxml.metrics import aggregate, format_table, partition_label
from pipelines.appxml.pipeline import PartitionSpec, StagingError, iter_partitions, stage_partition
from pipelines.appxml.tables import DEFAULT_SOURCE_COLUMN, DEFAULT_SOURCE_TABLE, DEFAULT_STAGING_TABLE, TableName

log = logging.getLogger(__name__)

SOURCE_TABLE = DEFAULT_SOURCE_TABLE
SOURCE_COLUMN = DEFAULT_SOURCE_COLUMN
STAGING_TABLE = DEFAULT_STAGING_TABLE
#: Partitions of one run staging at the same time (max_active_tis_per_dagrun): what the database takes.
#: Fixed when the DAG is parsed (a run's Params cannot change it); a deployment may set the variable.
MAX_PARALLEL_ENV = "PIPELINES_APPXML_MAX_PARALLEL"
MAX_PARALLEL_PARTITIONS = max(1, int(os.environ.get(MAX_PARALLEL_ENV, "8")))


def check_connection(conn_id: str = CONN_ID) -> None:
    """A missing connection is one clear error in the first task, before anything is written."""
    from airflow.sdk import BaseHook

    try:
        BaseHook.get_connection(conn_id)
    except Exception as exc:  # the SDK raises AirflowNotFoundException; one line is all a user needs
        if "NotFound" in type(exc).__name__ or "isn't defined" in str(exc):
            raise StagingError(f"connection {conn_id!r} is not defined") from None
        raise


def plan_partitions(params: dict[str, Any]) -> list[dict[str, int]]:
    """One entry per partition to stage, from the run's params; a StagingError names a bad param before
    anything is written. ``remainders`` reruns only those partitions."""
    workers, batch, limit = int(params["workers"]), int(params["batch"]), int(params["limit"])
    if workers < 1:
        raise StagingError(f"workers must be at least 1, got {workers}")
    remainders = params.get("remainders")
    plan = [{"mod": workers, "rem": rem, "batch": batch, "limit": limit}
            for rem in iter_partitions(workers, None if remainders in (None, []) else list(remainders))]
    for entry in plan:  # the same checks the staging loop makes, before the first write
        spec_for(entry).validated()
    log.info("Staging %d partition(s) of %d: %s", len(plan), workers,
             ", ".join(partition_label(entry["rem"], workers) for entry in plan))
    return plan


def spec_for(entry: dict[str, int]) -> PartitionSpec:
    return PartitionSpec(mod=entry["mod"], rem=entry["rem"], batch=entry["batch"], limit=entry["limit"],
                         source_table=SOURCE_TABLE, source_column=SOURCE_COLUMN, staging_table=STAGING_TABLE)


def _with_engine(action: Any, conn_id: str) -> None:
    engine = engine_from_conn_id(conn_id)
    try:
        action(engine, TableName.parse(STAGING_TABLE))
    finally:
        engine.dispose()


def ensure_staging_table(conn_id: str = CONN_ID) -> None:
    _with_engine(ddl.ensure_staging_table, conn_id)


def drop_index(enabled: bool, conn_id: str = CONN_ID) -> None:
    if enabled:
        _with_engine(ddl.drop_staging_index, conn_id)
    else:
        log.info("drop_index is off: the staging index stays in place")


def recreate_index(enabled: bool, conn_id: str = CONN_ID) -> None:
    if enabled:
        _with_engine(ddl.create_staging_index, conn_id)
    else:
        log.info("recreate_index is off: the staging index is not rebuilt")


def stage(entry: dict[str, int], attempt: int = 1, conn_id: str = CONN_ID) -> dict[str, Any]:
    """Stage one partition on its own engine and connections; returns its metrics."""
    engine = engine_from_conn_id(conn_id)
    try:
        return stage_partition(engine, spec_for(entry), attempt).to_dict()
    finally:
        engine.dispose()


def summarize(partitions: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals of the run (the fields of the original appxml_aggregate.json), the per-partition table logged."""
    totals = aggregate(list(partitions))
    log.info("Per partition:\n%s", format_table(totals["partitions"]))
    log.info("Total: %d processed, %d staged, skipped %s, %d id_mismatch, %.1f MB read, %.1f rows/s",
             totals["processed"], totals["staged"], totals["skipped"] or "none", totals["id_mismatch"],
             totals["source_bytes"] / 1e6, totals["rows_per_sec"])
    return totals
