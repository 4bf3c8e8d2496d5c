"""Transform: PostgreSQL ``raw.<Table>`` -> ``public.<table>`` (lowercase name, snake_case columns).

A table's SELECT comes from ``include/sql/postgres/opendental/transform/<table>.sql`` when that file exists (the
core tables' business rules), else from the generic cleaning transform (snake_case names, strings
trimmed; zero dates are already NULL in raw). Rebuilds build ``public.<table>__etl_build`` and swap it
in one transaction; incremental and append-only tables only upsert the rows that changed, unless the
SQL file says ``-- rebuild: full`` (e.g. values that depend on today's date, like an age).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from pipelines.common.paths import sql_dir
from pipelines.opendental import db
from pipelines.opendental.config import Settings
from pipelines.opendental.connections import DEFAULT_IDS, ConnIds, mysql, postgres
from pipelines.opendental.db import PUBLIC, RAW, qualify
from pipelines.opendental.deletes import KEYS_PER_STATEMENT, chunks, forget, pending
from pipelines.opendental.errors import TransformError
from pipelines.opendental.identifiers import pg_ident, snake_case
from pipelines.opendental.state import as_text
from pipelines.opendental.tablerun import StageMetrics, TableRun, Window, decide_mode, window_for
from pipelines.opendental.verify import KeyFilter, delete_keys, keys_present

log = logging.getLogger(__name__)

TRANSFORM_DIR = "postgres/opendental/transform"
BUILD_SUFFIX = "__etl_build"
TEXT_TYPES = ("text", "character varying", "character")
ALWAYS_FULL = re.compile(r"^\s*--\s*rebuild:\s*full\s*$", re.MULTILINE | re.IGNORECASE)


def custom_sql(table: str) -> str | None:
    """The hand-written SELECT for this table, if there is one."""
    path = sql_dir() / TRANSFORM_DIR / f"{table.lower()}.sql"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def generic_sql(table: str, raw_columns: list[tuple[str, str]]) -> str:
    """snake_case every column, trim every string; one output column per raw column."""
    seen: set[str] = set()
    parts = []
    for name, type_ in raw_columns:
        alias = snake_case(name)
        while alias in seen:
            alias += "_"
        seen.add(alias)
        value = f"btrim({pg_ident(name)})" if type_.startswith(TEXT_TYPES) else pg_ident(name)
        parts.append(f"{value} AS {pg_ident(alias)}")
    return "SELECT " + ",\n       ".join(parts) + f"\nFROM {qualify(RAW, table)}"


def _strip_sql(sql: str) -> str:
    return sql.strip().rstrip(";").strip()


def output_columns(pg: Any, select_sql: str) -> list[str]:
    with pg.cursor() as cur:
        cur.execute(f"SELECT * FROM ({select_sql}) AS s LIMIT 0")
        names = [d.name for d in cur.description]
    pg.rollback()
    return names


def rebuild(pg: Any, table: str, select_sql: str, keys: list[str], watermark: str | None = None) -> int:
    """Build the whole public table beside the live one, key it, swap it in (one transaction)."""
    build = table + BUILD_SUFFIX
    with pg.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {qualify(PUBLIC, build)}")
        cur.execute(f"CREATE TABLE {qualify(PUBLIC, build)} AS {select_sql}")
        if keys:
            cur.execute(f"ALTER TABLE {qualify(PUBLIC, build)} ADD PRIMARY KEY "
                        f"({', '.join(pg_ident(k) for k in keys)})")
        if watermark:
            # The next incremental run starts from MAX(watermark): an index keeps that instant.
            cur.execute(f"CREATE INDEX ON {qualify(PUBLIC, build)} ({pg_ident(watermark)})")
        db.pg_swap_in(cur, PUBLIC, table, build)
    pg.commit()
    db.vacuum_analyze(pg, qualify(PUBLIC, table))
    return db.count(pg, qualify(PUBLIC, table))


def upsert(pg: Any, table: str, select_sql: str, columns: list[str], keys: list[str], window: Window) -> int:
    """Upsert the transformed rows in ``window`` (pushed down into the SELECT by the planner)."""
    condition, params = window.condition(pg_ident, prefix="s.")
    with pg.cursor() as cur:
        rows = db.pg_upsert(cur, qualify(PUBLIC, table), select_sql, columns, keys, condition, params)
    pg.commit()
    return rows


def public_window(pg: Any, run: TableRun, settings: Settings, columns: list[str]) -> Window | None:
    """Where public's copy stops (its latest watermark minus the overlap, or its highest key), on
    public's column names; None when the column is not in the transform's output."""
    plan, live = run.plan, qualify(PUBLIC, run.table.lower())
    column = plan.watermark_column if plan.strategy == "incremental" else plan.key_column
    name = snake_case(column) if column else None
    if name not in columns:
        return None
    latest = db.scalar(pg, f"SELECT MAX({pg_ident(name)}) FROM {live}")
    window = window_for(plan, last_value=as_text(latest), last_key=latest, overlap=settings.overlap)
    return window.on(name) if window else None


def transform_table(run: TableRun, settings: Settings, ids: ConnIds = DEFAULT_IDS) -> TableRun:
    """Bring ``public.<table>`` up to date with ``raw``; returns the run with the transform figures."""
    started = time.monotonic()
    table, plan = run.table, run.plan
    target = table.lower()
    with postgres(ids.analytics) as pg:
        db.ensure_schemas(pg)
        raw_columns = db.pg_columns(pg, RAW, table)
        if not raw_columns:
            raise TransformError(f"table {table}: raw.{table} does not exist (run its load first)")
        custom = custom_sql(table)
        select_sql = _strip_sql(custom) if custom else generic_sql(table, raw_columns)
        columns = output_columns(pg, select_sql)
        keys = [snake_case(k) for k in plan.primary_key]
        missing = [k for k in keys if k not in columns]
        if missing:
            raise TransformError(f"table {table}: transform output lacks key column(s) {', '.join(missing)}")
        existing = [name for name, _ in db.pg_columns(pg, PUBLIC, target)]
        # A hand-written transform may say it must always be rebuilt (e.g. values that depend on today).
        in_sync = (not run.rebuilt("load") and existing == columns and bool(keys)
                   and not (custom and ALWAYS_FULL.search(custom)))
        window = public_window(pg, run, settings, columns) if in_sync else None
        mode = decide_mode(plan, in_sync=in_sync, window=window)
        public_total = None  # whole-table counts are validation's job
        if mode == "full" or window is None:
            log.info("%s: rebuilding public.%s (%s transform) and swapping it in", table, target,
                     "hand-written" if custom else "generic")
            watermark = snake_case(plan.watermark_column) if plan.watermark_column else None
            rows = public_total = rebuild(pg, target, select_sql, keys, watermark if watermark in columns else None)
        else:
            log.info("%s: upserting rows with %s into public.%s", table, window.text, target)
            rows = upsert(pg, target, select_sql, columns, keys, window)
            if run.lookback and snake_case(run.lookback.column) in columns:
                rows += upsert(pg, target, select_sql, columns, keys, run.lookback.on(snake_case(run.lookback.column)))
        repaired, deleted = resync_public(pg, run, select_sql, columns, keys, ids)
    return run.with_stage("transform", StageMetrics(
        mode=mode, rows=rows, seconds=round(time.monotonic() - started, 3),
        window=window if mode != "full" else None, total_rows=public_total, deleted=deleted, repaired=repaired))


def resync_public(pg: Any, run: TableRun, select_sql: str, columns: list[str], keys: list[str],
                  ids: ConnIds) -> tuple[int, int]:
    """Re-derive public's rows for the pending keys (rows repaired, or deleted at the source; raw holds them or
    not), then forget the keys: every stage has them. Returns (upserted, deleted)."""
    table, target = run.table, run.table.lower()
    with mysql(ids.replica) as replica:
        pending_keys = pending(replica, table)
        if not pending_keys:
            return 0, 0
        held = keys_present(pg, qualify(RAW, table), run.plan.primary_key, pending_keys, pg_ident, as_text=True)
        pg.commit()
        upserted = 0
        for chunk in chunks(sorted(held), KEYS_PER_STATEMENT):
            upserted += upsert(pg, target, select_sql, columns, keys, KeyFilter(tuple(keys), tuple(chunk)))
        with pg.cursor() as cur:
            deleted = delete_keys(cur, qualify(PUBLIC, target), keys,
                                  [k for k in pending_keys if k not in held], pg_ident)
        pg.commit()
        forget(replica, table, pending_keys)
    log.info("%s: %d rows repaired and %d deleted in public for pending keys", table, upserted, deleted)
    return upserted, deleted
