"""The stages a table has finished in a run, kept on the replica until its run validates it: a retried or
cleared table's task resumes at the stage that failed (a full extract of a large table is not copied again
because its transform failed), and a table that finished starts again from extract when cleared."""

from __future__ import annotations

from typing import Any

from pipelines.common.paths import read_sql
from pipelines.opendental.connections import DEFAULT_IDS, ConnIds, mysql
from pipelines.opendental.db import execute
from pipelines.opendental.tablerun import TableRun


def finished_stages(run_id: str, table: str, ids: ConnIds = DEFAULT_IDS) -> dict[str, TableRun]:
    """Stage -> the table's run record as that stage left it, for the stages finished in ``run_id``."""
    with mysql(ids.replica) as replica:
        execute(replica, read_sql("mysql/opendental/stage_done_table.sql"))
        cur = replica.cursor()
        cur.execute(read_sql("mysql/opendental/stage_done_get.sql"), {"run_id": run_id, "table": table})
        rows = cur.fetchall()
        cur.close()
    return {stage: TableRun.model_validate_json(record) for stage, record in rows}


def mark_finished(run_id: str, stage: str, run: TableRun, ids: ConnIds = DEFAULT_IDS) -> None:
    _write("stage_done_table.sql", ids)
    _write("stage_done_put.sql", ids, run_id=run_id, table=run.table, stage=stage,
           table_run=run.model_dump_json())


def forget_stages(run_id: str, table: str, ids: ConnIds = DEFAULT_IDS) -> None:
    """The table's run is validated: nothing to resume; rows of runs never resumed expire with it."""
    _write("stage_done_forget.sql", ids, run_id=run_id, table=table)
    _write("stage_done_expire.sql", ids)


def _write(sql_file: str, ids: ConnIds, **params: Any) -> None:
    with mysql(ids.replica) as replica:
        cur = replica.cursor()
        cur.execute(read_sql(f"mysql/opendental/{sql_file}"), params or None)
        cur.close()
