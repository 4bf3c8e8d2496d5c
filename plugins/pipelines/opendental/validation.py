"""Validation between stages: row counts source vs replica vs raw vs public, recorded per run on the replica.

Full copies compare whole tables at every stage. Incremental and append-only runs compare the rows of
this run's window (changed since the window start, or past the previous key) at source, replica and raw,
and whole tables from the replica on: a row deleted in production is not deleted by an incremental copy,
so source and replica totals may differ there (logged, not failed).
"""

from __future__ import annotations

import json
import logging

from pipelines.common.paths import read_sql
from pipelines.opendental.checks import business_check_problems
from pipelines.opendental.connections import DEFAULT_IDS, ConnIds, mysql, postgres
from pipelines.opendental.db import PUBLIC, RAW, count, execute, qualify, scalar
from pipelines.opendental.errors import BusinessCheckFailed, RowCountMismatch
from pipelines.opendental.identifiers import mysql_ident, pg_ident
from pipelines.opendental.tablerun import Counts, TableRun

log = logging.getLogger(__name__)


def count_table(run: TableRun, ids: ConnIds = DEFAULT_IDS) -> Counts:
    table, window = run.table, run.window
    my_where, params = window.condition(mysql_ident) if window else (None, None)
    pg_where, _ = window.condition(pg_ident) if window else (None, None)
    with mysql(ids.source, read_only=True) as source, mysql(ids.replica) as replica:
        source_rows = count(source, mysql_ident(table))
        replica_rows = count(replica, mysql_ident(table))
        changed_source = count(source, mysql_ident(table), my_where, params) if window else None
        changed_replica = count(replica, mysql_ident(table), my_where, params) if window else None
    with postgres(ids.analytics) as pg:
        raw_rows = count(pg, qualify(RAW, table))
        public_rows = count(pg, qualify(PUBLIC, table.lower()))
        changed_raw = count(pg, qualify(RAW, table), pg_where, params) if window else None
    return Counts(table=table, strategy=run.strategy, mode=run.mode if window else "full", source_rows=source_rows,
                  replica_rows=replica_rows, raw_rows=raw_rows, public_rows=public_rows,
                  window_start=window.label if window else None, changed_source=changed_source,
                  changed_replica=changed_replica, changed_raw=changed_raw,
                  deleted_replica=run.deleted("extract"), deleted_raw=run.deleted("load"),
                  deleted_public=run.deleted("transform"), verified_rows=_verified(run),
                  repaired_replica=run.repaired("extract"), repaired_raw=run.repaired("load"),
                  repaired_public=run.repaired("transform"), conversions=run.conversions("load"))


def _verified(run: TableRun) -> int:
    stage = run.stage("extract")
    return stage.verified if stage else 0


def record(counts: Counts, run_id: str, problems: list[str], ids: ConnIds = DEFAULT_IDS) -> None:
    with mysql(ids.replica) as replica:
        execute(replica, read_sql("mysql/opendental/validation_table.sql"))
        if not scalar(replica, read_sql("mysql/opendental/validation_columns.sql")):
            execute(replica, read_sql("mysql/opendental/validation_upgrade.sql"))
        if not scalar(replica, read_sql("mysql/opendental/validation_verify_columns.sql")):
            execute(replica, read_sql("mysql/opendental/validation_verify_upgrade.sql"))
        if not scalar(replica, read_sql("mysql/opendental/validation_conversions_column.sql")):
            execute(replica, read_sql("mysql/opendental/validation_upgrade_conversions.sql"))
        with replica.cursor() as cur:
            cur.execute(read_sql("mysql/opendental/validation_put.sql"), {
                **counts.model_dump(exclude={"mode", "table"}),
                "table": counts.table, "run_id": run_id, "ok": not problems,
                "problem": "; ".join(problems)[:500] or None,
                "conversions": json.dumps(counts.conversions, sort_keys=True),
            })


def validate_table(run: TableRun, run_id: str, ids: ConnIds = DEFAULT_IDS) -> TableRun:
    """Count every stage, run the table's business-total checks, record both, fail naming the table and
    the two counts (or the check, day and two totals) that differ."""
    counts = count_table(run, ids)
    count_problems = counts.problems()
    problems = count_problems + business_check_problems(run.table, run_id, ids=ids)
    record(counts, run_id, problems, ids)
    if counts.mode != "full" and counts.source_rows != counts.replica_rows:
        log.info("%s: source has %s rows, replica %s (rows written at the source since the copy, or outside "
                 "the window)", counts.table, counts.source_rows, counts.replica_rows)
    if problems:
        raise (RowCountMismatch if count_problems else BusinessCheckFailed)("; ".join(problems))
    log.info("%s: counts agree: replica=%s raw=%s public=%s%s; deleted at the source: %s", counts.table,
             counts.replica_rows, counts.raw_rows, counts.public_rows,
             f", changed since {counts.window_start}: {counts.changed_source}" if counts.window_start else "",
             counts.deleted_replica)
    return run.validated(counts)
