"""The stages a table has finished in a run, kept on the replica until its run validates it: a retried or
cleared table's task resumes at the stage that failed (a full extract of a large table is not copied again
because its transform failed), and a table that finished starts again from extract when cleared.

The functions take the table task's replica session; ``finished_stages`` comes first (it creates the
bookkeeping table when it is missing)."""

from __future__ import annotations

from typing import Any

from pipelines.common.paths import read_sql
from pipelines.opendental.db import execute
from pipelines.opendental.tablerun import TableRun


def finished_stages(replica: Any, run_id: str, table: str) -> dict[str, TableRun]:
    """Stage -> the table's run record as that stage left it, for the stages finished in ``run_id``."""
    execute(replica, read_sql("mysql/opendental/stage_done_table.sql"))
    with replica.cursor() as cur:
        cur.execute(read_sql("mysql/opendental/stage_done_get.sql"), {"run_id": run_id, "table": table})
        rows = cur.fetchall()
    return {stage: TableRun.model_validate_json(record) for stage, record in rows}


def mark_finished(replica: Any, run_id: str, stage: str, run: TableRun) -> None:
    _write(replica, "stage_done_put.sql", run_id=run_id, table=run.table, stage=stage,
           table_run=run.model_dump_json())


def forget_stages(replica: Any, run_id: str, table: str) -> None:
    """The table's run is validated: nothing to resume; rows of runs never resumed expire with it."""
    _write(replica, "stage_done_forget.sql", run_id=run_id, table=table)
    _write(replica, "stage_done_expire.sql")


def _write(replica: Any, sql_file: str, **params: Any) -> None:
    with replica.cursor() as cur:
        cur.execute(read_sql(f"mysql/opendental/{sql_file}"), params or None)
