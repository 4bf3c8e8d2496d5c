"""Load: MySQL replica -> PostgreSQL ``raw``, always through COPY.

The replica's server encodes every row as one CSV line (zero dates already empty = NULL, text quoted,
blobs as bytea hex); Python streams those lines from a server-side cursor straight into ``COPY``, so
memory is bounded by the fetch size. Full loads fill a shadow table that replaces the live one in one
transaction; incremental loads COPY into a temporary table and upsert by primary key.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from pipelines.opendental.config import Settings
from pipelines.opendental.connections import DEFAULT_IDS, ConnIds, mysql, postgres, streaming_cursor
from pipelines.opendental.db import (
    RAW,
    SHADOW_SUFFIX,
    count,
    ensure_schemas,
    pg_columns,
    pg_swap_in,
    pg_upsert,
    qualify,
    scalar,
    vacuum_analyze,
)
from pipelines.opendental.deletes import KEYS_PER_STATEMENT, chunks, pending
from pipelines.opendental.errors import TableMissingError
from pipelines.opendental.identifiers import mysql_ident, pg_ident
from pipelines.opendental.progress import Progress
from pipelines.opendental.schema import (
    TableSchema,
    conversion_counts,
    conversion_flags_expr,
    csv_row_expr,
    describe,
    expected_pg_columns,
    pg_columns_ddl,
)
from pipelines.opendental.state import as_text
from pipelines.opendental.tablerun import StageMetrics, TableRun, Window, decide_mode, window_for
from pipelines.opendental.verify import KeyFilter, delete_keys, keys_present

log = logging.getLogger(__name__)


def stream_into_copy(replica: Any, pg_cur: Any, schema: TableSchema, target: str, settings: Settings,
                     progress: Progress, conversions: Counter[str], window: Window | None = None,
                     freeze: bool = False) -> int:
    """Stream the replica's rows (those in ``window``, or all) as CSV lines into ``COPY target``; returns
    the row count. Every cell the encoder changes (NUL removed, zero date) is tallied in ``conversions``."""
    columns = ", ".join(pg_ident(c.name) for c in schema.columns)
    condition, params = window.condition(mysql_ident) if window else ("", None)
    cur = streaming_cursor(replica)
    cur.execute(f"SELECT {csv_row_expr(schema)}, {conversion_flags_expr(schema)} FROM {mysql_ident(schema.name)}"
                + (f" WHERE {condition}" if condition else ""), params)
    rows_copied = 0
    try:
        options = "FORMAT csv, FREEZE" if freeze else "FORMAT csv"
        with pg_cur.copy(f"COPY {target} ({columns}) FROM STDIN ({options})") as copy:
            while rows := cur.fetchmany(settings.fetch_rows):
                copy.write(b"\n".join([row[0] for row in rows]) + b"\n")
                conversions.update(flag for row in rows if row[1] for flag in _text(row[1]).split(","))
                rows_copied += len(rows)
                progress.advance(len(rows))
    finally:
        cur.close()
    return rows_copied


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def full_load(replica: Any, pg: Any, schema: TableSchema, watermark: str | None, settings: Settings,
              progress: Progress, conversions: Counter[str]) -> tuple[int, float]:
    """COPY into a fresh shadow table, key and index it, then swap it in (readers never see it half)."""
    shadow_name = schema.name + SHADOW_SUFFIX
    shadow = qualify(RAW, shadow_name)
    with pg.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {shadow}")
        cur.execute(f"CREATE TABLE {shadow} (\n  {pg_columns_ddl(schema, with_primary_key=False)}\n)")
        copy_started = time.monotonic()
        # FREEZE: the table was created in this transaction, so rows are written already frozen and
        # all-visible (no hint-bit rewrite later; the VACUUM after the swap has almost nothing to do).
        rows = stream_into_copy(replica, cur, schema, shadow, settings, progress, conversions, freeze=True)
        copy_seconds = time.monotonic() - copy_started
        # Keys and indexes after the bulk COPY: one sort instead of a B-tree insert per row.
        if schema.primary_key:
            cur.execute(f"ALTER TABLE {shadow} ADD PRIMARY KEY ("
                        + ", ".join(pg_ident(k) for k in schema.primary_key) + ")")
        if watermark:
            cur.execute(f"CREATE INDEX ON {shadow} ({pg_ident(watermark)})")
        pg_swap_in(cur, RAW, schema.name, shadow_name)
    pg.commit()
    return rows, copy_seconds


def upsert_load(replica: Any, pg: Any, schema: TableSchema, settings: Settings, progress: Progress,
                conversions: Counter[str], window: Window) -> int:
    """COPY the changed rows into a temporary table, then upsert them by primary key."""
    temp = pg_ident(f"{schema.name}__etl_changes")
    with pg.cursor() as cur:
        cur.execute(f"CREATE TEMPORARY TABLE {temp} (LIKE {qualify(RAW, schema.name)}) ON COMMIT DROP")
        rows = stream_into_copy(replica, cur, schema, temp, settings, progress, conversions, window)
        pg_upsert(cur, qualify(RAW, schema.name), f"SELECT * FROM {temp}", [c.name for c in schema.columns],
                  schema.primary_key)
    pg.commit()
    return rows


def append_load(replica: Any, pg: Any, schema: TableSchema, settings: Settings, progress: Progress,
                conversions: Counter[str], window: Window) -> int:
    """Rows past the raw table's highest key, COPY'd straight into it (one transaction)."""
    with pg.cursor() as cur:
        rows = stream_into_copy(replica, cur, schema, qualify(RAW, schema.name), settings, progress, conversions,
                                window)
    pg.commit()
    return rows


def raw_window(pg: Any, run: TableRun, settings: Settings) -> Window | None:
    """Where raw's copy stops: its latest watermark (minus the overlap) or its highest key."""
    plan, live = run.plan, qualify(RAW, run.table)
    if plan.strategy == "incremental" and plan.watermark_column:
        latest = as_text(scalar(pg, f"SELECT MAX({pg_ident(plan.watermark_column)}) FROM {live}"))
        return window_for(plan, last_value=latest, overlap=settings.overlap)
    if plan.strategy == "append_only" and plan.key_column:
        return window_for(plan, last_key=scalar(pg, f"SELECT MAX({pg_ident(plan.key_column)}) FROM {live}"))
    return None


def load_table(run: TableRun, settings: Settings, ids: ConnIds = DEFAULT_IDS) -> TableRun:
    """Bring ``raw.<table>`` up to date with the replica; returns the run with the load figures."""
    started = time.monotonic()
    table, plan = run.table, run.plan
    with mysql(ids.replica) as replica, postgres(ids.analytics) as pg:
        schema = describe(replica.cursor(), table)
        if schema is None:
            raise TableMissingError(f"table {table}: not in the replica (run its extract first)")
        ensure_schemas(pg)
        existing = pg_columns(pg, RAW, table)
        drift = bool(existing) and existing != expected_pg_columns(schema)
        if drift:
            log.warning("%s: raw table differs from the replica's columns or types: rebuilding it with a full "
                        "load", table)
        in_sync = bool(existing) and not drift and not run.rebuilt("extract")
        window = raw_window(pg, run, settings) if in_sync else None
        mode = decide_mode(plan, in_sync=in_sync, window=window)
        copy_seconds = raw_total = None
        progress = Progress(f"{table} load", total=schema.estimated_rows if mode == "full" else None)
        conversions: Counter[str] = Counter()
        if mode == "full" or window is None:
            log.info("%s: full load into raw via a shadow table", table)
            rows, copy_seconds = full_load(replica, pg, schema, plan.watermark_column, settings, progress,
                                           conversions)
            vacuum_analyze(pg, qualify(RAW, table))
            # Whole-table counts are validation's job; a full load counts for its own figures at little cost.
            raw_total = count(pg, qualify(RAW, table))
        elif mode == "incremental":
            log.info("%s: incremental load of rows with %s >= %s (raw's latest minus overlap), upsert by key",
                     table, window.column, window.value)
            rows = upsert_load(replica, pg, schema, settings, progress, conversions, window)
        else:
            log.info("%s: append-only load after %s = %s", table, window.column, window.value)
            rows = append_load(replica, pg, schema, settings, progress, conversions, window)
        if run.lookback and mode != "full":
            rows += upsert_load(replica, pg, schema, settings, progress, conversions, run.lookback)
        repaired, deleted = resync_raw(replica, pg, schema, settings, progress, conversions)
    progress.done()
    return run.with_stage("load", StageMetrics(
        mode=mode, rows=rows, seconds=round(time.monotonic() - started, 3), window=window if mode != "full" else None,
        total_rows=raw_total, copy_seconds=None if copy_seconds is None else round(copy_seconds, 3),
        deleted=deleted, repaired=repaired, conversions=conversion_counts(schema, conversions)))


def resync_raw(replica: Any, pg: Any, schema: TableSchema, settings: Settings, progress: Progress,
               conversions: Counter[str]) -> tuple[int, int]:
    """Bring raw in line with the replica for the pending keys (rows repaired, or deleted at the source):
    upsert the rows the replica holds, delete the others; returns (upserted, deleted). The keys stay
    pending for transform."""
    keys = pending(replica, schema.name)
    if not keys:
        return 0, 0
    held = keys_present(replica, mysql_ident(schema.name), schema.primary_key, keys, mysql_ident)
    upserted = 0
    for chunk in chunks(sorted(held), KEYS_PER_STATEMENT):
        upserted += upsert_load(replica, pg, schema, settings, progress, conversions,
                                KeyFilter(schema.primary_key, tuple(chunk)))
    with pg.cursor() as cur:
        deleted = delete_keys(cur, qualify(RAW, schema.name), schema.primary_key,
                              [k for k in keys if k not in held], pg_ident)
    pg.commit()
    log.info("%s: %d rows repaired and %d deleted in raw for pending keys", schema.name, upserted, deleted)
    return upserted, deleted
