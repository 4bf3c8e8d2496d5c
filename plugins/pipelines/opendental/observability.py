"""What a table's task reads and writes (OpenLineage) and its figures (metrics), by stage: source ->
replica (extract), replica -> ``raw`` (load), ``raw`` -> ``public`` (transform)."""

from __future__ import annotations

from typing import Any

from pipelines.common import lineage, metrics
from pipelines.opendental.config import STAGES
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


def declare_table(table: str, result: dict[str, Any] | None = None) -> None:
    """Declare the table task's datasets: every copying stage's input and output, each output with the rows
    its stage wrote once that stage has run (``result``: the ``TableRun`` so far, as XCom)."""
    done = (result or {}).get("stages") or {}
    inputs: list[lineage.DatasetRef] = []
    outputs: list[lineage.DatasetRef] = []
    for stage in STAGES:
        stage_inputs, stage_outputs = stage_datasets(stage, table, (done.get(stage) or {}).get("rows"))
        inputs += stage_inputs
        outputs += stage_outputs
    lineage.declare(inputs, outputs)


def stage_figures(result: dict[str, Any], stage: str) -> None:
    """The figures (metrics) of a copying stage that has just run."""
    metrics.opendental_stage(result, stage)
