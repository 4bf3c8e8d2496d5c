"""Extract: production MySQL -> local MySQL replica, one table at a time.

The source encodes each row as an SQL tuple (``QUOTE``/``HEX``), Python only glues tuples into
multi-row INSERT statements for the replica, the way ``mysqldump --quick | mariadb`` does, without the
text round trip through two extra processes. Source reads are keyset pages on the integer primary key,
so no single statement holds a MyISAM read lock for long.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.opendental.config import Settings
from pipelines.opendental.connections import DEFAULT_IDS, ConnIds, mysql, streaming_cursor
from pipelines.opendental.db import SHADOW_SUFFIX, count, execute, mysql_swap_in, mysql_upsert_suffix
from pipelines.opendental.deletes import propagate_at_source
from pipelines.opendental.errors import PlanError, TableMissingError
from pipelines.opendental.identifiers import mysql_ident
from pipelines.opendental.plan import TablePlan
from pipelines.opendental.progress import Progress
from pipelines.opendental.schema import TableSchema, describe, insert_row_expr
from pipelines.opendental.state import TableState, as_text, ensure_state_table, get_state, later, put_state
from pipelines.opendental.tablerun import StageMetrics, TableRun, Window, decide_mode, window_for
from pipelines.opendental.verify import Verified, night_number, verify_and_repair

log = logging.getLogger(__name__)


@dataclass
class CopyOutcome:
    rows: int = 0
    max_watermark: str | None = None
    max_key: int | None = None


def _create_statement(source: Any, table: str, new_name: str) -> str:
    """The source's own DDL for the table, renamed (SHOW CREATE TABLE keeps engine, charset, keys)."""
    cur = source.cursor()
    cur.execute(f"SHOW CREATE TABLE {mysql_ident(table)}")
    ddl = cur.fetchone()[1]
    cur.close()
    head = f"CREATE TABLE {mysql_ident(table)}"
    if not ddl.startswith(head):
        raise RuntimeError(f"{table}: unexpected SHOW CREATE TABLE output")
    return f"CREATE TABLE {mysql_ident(new_name)}" + ddl[len(head):]


def _page_query(schema: TableSchema, plan: TablePlan, *, since: str | None, after: tuple[Any, Any] | None,
                limit: int | None) -> tuple[str, list[Any]]:
    """One keyset page (or the whole table in one streamed read when it has no integer key).

    Incremental pages walk (watermark, key) so the watermark index finds the few changed rows; full and
    append-only pages walk the key."""
    key = mysql_ident(plan.key_column) if plan.key_column else "NULL"
    wm = mysql_ident(plan.watermark_column) if plan.watermark_column else "NULL"
    by_watermark = since is not None and plan.watermark_column is not None and plan.key_column is not None
    where, params = [], []
    if since is not None and plan.watermark_column:
        where.append(f"{wm} >= %s")
        params.append(since)
    if after is not None and by_watermark:
        where.append(f"({wm} > %s OR ({wm} = %s AND {key} > %s))")
        params += [after[1], after[1], after[0]]
    elif after is not None and after[0] is not None and plan.key_column:
        where.append(f"{key} > %s")
        params.append(after[0])
    sql = f"SELECT {key}, {wm}, {insert_row_expr(schema)} FROM {mysql_ident(schema.name)}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if plan.key_column:
        sql += f" ORDER BY {wm}, {key}" if by_watermark else f" ORDER BY {key}"
        if limit:
            sql += f" LIMIT {int(limit)}"
    return sql, params


def copy_rows(source: Any, replica: Any, schema: TableSchema, plan: TablePlan, target: str, settings: Settings,
              *, since: str | None = None, after_key: Any = None, upsert: bool = False,
              progress: Progress | None = None) -> CopyOutcome:
    """Copy the selected rows into ``target`` in keyset pages; memory bounded by the page size."""
    outcome = CopyOutcome(max_key=after_key)
    head = f"INSERT INTO {mysql_ident(target)} VALUES ".encode()
    suffix = mysql_upsert_suffix((c.name for c in schema.columns), schema.primary_key) if upsert else b""
    limit = settings.batch_rows if plan.key_column else None
    position: tuple[Any, Any] | None = None if after_key is None else (after_key, None)
    while True:
        sql, params = _page_query(schema, plan, since=since, after=position, limit=limit)
        cur = streaming_cursor(source)
        cur.execute(sql, params)
        page_rows = 0
        batch: list[bytes] = []
        size = 0
        while rows := cur.fetchmany(5000):
            for _key, _watermark, encoded in rows:
                batch.append(encoded)
                size += len(encoded) + 1
                if size >= settings.statement_bytes:
                    execute(replica, head + b",".join(batch) + suffix)
                    batch, size = [], 0
            page_rows += len(rows)
            last_key, last_watermark, _ = rows[-1]
            position = (last_key, last_watermark)
            if plan.key_column:
                outcome.max_key = last_key if outcome.max_key is None else max(outcome.max_key, last_key)
            if plan.watermark_column:
                outcome.max_watermark = later(outcome.max_watermark, max(
                    (as_text(r[1]) for r in rows if r[1] is not None), default=None))
        cur.close()
        if batch:
            execute(replica, head + b",".join(batch) + suffix)
        outcome.rows += page_rows
        if progress:
            progress.advance(page_rows)
        if not plan.key_column or page_rows < (limit or 0) or page_rows == 0:
            return outcome


def full_copy(source: Any, replica: Any, schema: TableSchema, plan: TablePlan, settings: Settings,
              replica_exists: bool, progress: Progress) -> CopyOutcome:
    shadow = schema.name + SHADOW_SUFFIX
    execute(replica, f"DROP TABLE IF EXISTS {mysql_ident(shadow)}")
    execute(replica, _create_statement(source, schema.name, shadow))
    # MyISAM builds secondary indexes once at the end instead of row by row (a note on InnoDB).
    execute(replica, f"ALTER TABLE {mysql_ident(shadow)} DISABLE KEYS")
    outcome = copy_rows(source, replica, schema, plan, shadow, settings, progress=progress)
    # OpenDental tables carry dozens of secondary indexes: build them on all cores (MyISAM only).
    execute(replica, f"SET SESSION myisam_repair_threads = {max(2, os.cpu_count() or 1)}")
    execute(replica, f"ALTER TABLE {mysql_ident(shadow)} ENABLE KEYS")
    mysql_swap_in(replica, schema.name, shadow, replica_exists)
    return outcome


def extract_table(plan: TablePlan, settings: Settings, ids: ConnIds = DEFAULT_IDS) -> TableRun:
    """Bring the replica's copy of one table up to date; the returned record starts the table's run."""
    started = time.monotonic()
    table = plan.table
    with mysql(ids.source, read_only=True) as source, mysql(ids.replica) as replica:
        schema = describe(source.cursor(), table)
        if schema is None:
            raise TableMissingError(f"table {table}: no longer in the source database")
        ensure_state_table(replica)
        state = get_state(replica, table)
        replica_schema = describe(replica.cursor(), table)
        drift = replica_schema is not None and replica_schema.signature() != schema.signature()
        if drift:
            log.warning("%s: schema drift between source and replica (columns or types differ): rebuilding the "
                        "replica table from the source DDL with a full copy", table)
        window = window_for(plan, last_value=state.last_value, last_key=state.last_key,
                            overlap=settings.overlap) if state else None
        in_sync = replica_schema is not None and not drift and _state_matches(state, plan, schema)
        mode = decide_mode(plan, in_sync=in_sync, window=window)
        progress = Progress(f"{table} extract", total=schema.estimated_rows if mode == "full" else None)
        outcome = _copy(source, replica, schema, plan, settings, mode, window, state, replica_schema is not None,
                        progress)
        verified = _verify(source, replica, schema, plan, mode, settings)
        deleted = verified.deleted
        if verified.rows == 0 or settings.verify_every_nights(table) > 1:
            deleted += _propagate_deletes(source, replica, plan, mode)  # every key, every night
        lookback = _look_back(source, replica, schema, plan, settings, mode)
        lookback_rows = 0
        if lookback:
            lookback_rows = copy_rows(source, replica, schema, replace(plan, watermark_column=lookback.column),
                                      table, settings, since=str(lookback.value), upsert=True).rows
            log.info("%s: look-back re-read %d rows with %s", table, lookback_rows, lookback.text)
        last_value = later(state.last_value if state and mode != "full" else None, outcome.max_watermark)
        last_key = outcome.max_key if outcome.max_key is not None else (state.last_key if state else None)
        replica_total = count(replica, mysql_ident(table))
        put_state(replica, table, plan.strategy, plan.watermark_column, last_value,
                  last_key if plan.key_column else None, outcome.rows, schema.signature())
    progress.done()
    metrics = StageMetrics(mode=mode, rows=outcome.rows + lookback_rows,
                           seconds=round(time.monotonic() - started, 3), window=window if mode != "full" else None,
                           total_rows=replica_total, deleted=deleted, verified=verified.rows,
                           repaired=verified.repaired)
    return TableRun(plan=plan, mode=mode, window=metrics.window, schema_drift=drift, watermark=last_value,
                    stages={"extract": metrics}, lookback=lookback)


def _verify(source: Any, replica: Any, schema: TableSchema, plan: TablePlan, mode: str,
            settings: Settings) -> Verified:
    """Tonight's share of the table's content compared with the source and repaired (a full copy is
    fresh; a table without a primary key has nothing to compare rows by)."""
    every = settings.verify_every_nights(plan.table)
    if mode == "full" or every == 0 or not schema.primary_key:
        return Verified()
    return verify_and_repair(source, replica, schema, every_nights=every,
                             night=night_number(datetime.now(UTC).date()), chunk_width=settings.verify.chunk_keys)


def _look_back(source: Any, replica: Any, schema: TableSchema, plan: TablePlan, settings: Settings,
               mode: str) -> Window | None:
    """The rows an incremental run re-reads by business date (the table's ``lookback`` override)."""
    lookback = settings.override(plan.table).lookback
    if lookback is None or mode != "incremental":
        return None
    col = schema.column(lookback.column)
    if col is None or not col.is_temporal:
        raise PlanError(f"table {plan.table}: look-back column {lookback.column!r} is not a date/time column")
    since = datetime.now(UTC).date() - timedelta(days=lookback.days)
    return Window(column=col.name, value=f"{since.isoformat()} 00:00:00", inclusive=True)


def _propagate_deletes(source: Any, replica: Any, plan: TablePlan, mode: str) -> int:
    """Rows deleted at the source since the last run, removed from the replica (a full copy has none)."""
    if mode == "full":
        return 0
    if plan.key_column is None:
        log.warning("%s: rows deleted at the source are not detected without a single integer primary key; "
                    "a forced full run removes them", plan.table)
        return 0
    return propagate_at_source(source, replica, plan.table, plan.key_column)


def _state_matches(state: TableState | None, plan: TablePlan, schema: TableSchema) -> bool:
    """The stored state was written by this strategy, on this watermark column, for this DDL."""
    return state is not None and (state.strategy, state.watermark_column, state.signature) == (
        plan.strategy, plan.watermark_column, schema.signature())


def _copy(source: Any, replica: Any, schema: TableSchema, plan: TablePlan, settings: Settings, mode: str,
          window: Window | None, state: TableState | None, replica_exists: bool, progress: Progress) -> CopyOutcome:
    table = schema.name
    if mode == "full" or window is None:
        log.info("%s: full copy into a shadow table, swapped in atomically (%s)", table,
                 "forced" if plan.force else plan.strategy)
        return full_copy(source, replica, schema, plan, settings, replica_exists, progress)
    if mode == "incremental":
        log.info("%s: incremental from %s >= %s (stored watermark %s minus %s overlap), upsert by key",
                 table, plan.watermark_column, window.value, state.last_value if state else None,
                 settings.overlap)
        return copy_rows(source, replica, schema, plan, table, settings, since=str(window.value), upsert=True,
                         progress=progress)
    log.info("%s: append-only after %s = %s", table, plan.key_column, window.value)
    return copy_rows(source, replica, schema, plan, table, settings, after_key=window.value, progress=progress)
