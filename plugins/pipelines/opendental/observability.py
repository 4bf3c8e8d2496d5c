"""What each OpenDental stage reads and writes (OpenLineage) and its figures (metrics), by table and stage:
source -> replica (extract), replica -> ``raw`` (load), ``raw`` -> ``public`` (transform)."""

from __future__ import annotations

from typing import Any

from pipelines.common import lineage, metrics
from pipelines.opendental.connections import DEFAULT_IDS, ConnIds
from pipelines.opendental.db import PUBLIC, RAW


def stage_datasets(stage: str, table: str, rows: int | None = None, ids: ConnIds = DEFAULT_IDS
                   ) -> tuple[list[lineage.DatasetRef], list[lineage.DatasetRef]]:
    """(inputs, outputs) of ``stage`` for ``table``; the output with the rows the stage wrote and its columns
    once the stage has run (``rows`` given)."""
    done = rows is not None
    if stage == "extract":
        source, target = lineage.table(ids.source, table), lineage.table(ids.replica, table, describe=done)
    elif stage == "load":
        source, target = lineage.table(ids.replica, table), lineage.table(ids.analytics, RAW, table, describe=done)
    elif stage == "transform":
        source = lineage.table(ids.analytics, RAW, table)
        target = lineage.table(ids.analytics, PUBLIC, table.lower(), describe=done)
    else:
        return [], []
    return [source], [target.with_rows(rows)]


def declare_stage(stage: str, table: str, result: dict[str, Any] | None = None) -> None:
    """Declare the stage's datasets (before it runs: ``result`` None), or its outputs with their row counts
    and its figures (after: ``result`` is the ``TableRun`` as XCom)."""
    if result is None:
        lineage.declare(*stage_datasets(stage, table))
        return
    rows = ((result.get("stages") or {}).get(stage) or {}).get("rows")
    lineage.declare(outputs=stage_datasets(stage, table, rows if rows is not None else 0)[1])
    metrics.opendental_stage(result, stage)
