"""Transform: PostgreSQL ``raw.<Table>`` -> ``public.<table>`` (lowercase name, snake_case columns).

A table's SELECT comes from ``include/sql/opendental/transform/<table>.sql`` when that file exists (the
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
from pipelines.opendental.config import Settings
from pipelines.opendental.connections import DEFAULT_IDS, ConnIds, postgres
from pipelines.opendental.identifiers import pg_ident, snake_case
from pipelines.opendental.load import RAW, ensure_schemas, pg_table_columns, qualified, vacuum_analyze
from pipelines.opendental.state import as_text, window_start

log = logging.getLogger(__name__)

PUBLIC = "public"
TRANSFORM_DIR = "opendental/transform"
BUILD_SUFFIX = "__etl_build"
TEXT_TYPES = ("text", "character varying", "character")
ALWAYS_FULL = re.compile(r"^\s*--\s*rebuild:\s*full\s*$", re.MULTILINE | re.IGNORECASE)


class TransformError(RuntimeError):
    """A transform cannot run as written (e.g. its output lacks the table's key)."""


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
    return "SELECT " + ",\n       ".join(parts) + f"\nFROM {qualified(RAW, table)}"


def _strip_sql(sql: str) -> str:
    return sql.strip().rstrip(";").strip()


def output_columns(pg: Any, select_sql: str) -> list[str]:
    with pg.cursor() as cur:
        cur.execute(f"SELECT * FROM ({select_sql}) AS s LIMIT 0")
        names = [d.name for d in cur.description]
    pg.rollback()
    return names


def rebuild(pg: Any, table: str, select_sql: str, keys: list[str], watermark: str | None = None) -> None:
    """Build the whole public table beside the live one, key it, swap it in (one transaction)."""
    live, build = qualified(PUBLIC, table), qualified(PUBLIC, table + BUILD_SUFFIX)
    with pg.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {build}")
        cur.execute(f"CREATE TABLE {build} AS {select_sql}")
        if keys:
            cur.execute(f"ALTER TABLE {build} ADD PRIMARY KEY ({', '.join(pg_ident(k) for k in keys)})")
        if watermark:
            # The next incremental run starts from MAX(watermark): an index keeps that instant.
            cur.execute(f"CREATE INDEX ON {build} ({pg_ident(watermark)})")
        cur.execute(f"DROP TABLE IF EXISTS {live}")
        cur.execute(f"ALTER TABLE {build} RENAME TO {pg_ident(table)}")
    pg.commit()


def upsert(pg: Any, table: str, select_sql: str, columns: list[str], keys: list[str], condition: str,
           params: list[Any]) -> int:
    """Upsert the transformed rows matching ``condition`` (pushed down into the SELECT by the planner)."""
    cols = [pg_ident(c) for c in columns]
    key_cols = [pg_ident(k) for k in keys]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in key_cols)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    with pg.cursor() as cur:
        cur.execute(f"INSERT INTO {qualified(PUBLIC, table)} ({', '.join(cols)}) "
                    f"SELECT {', '.join(cols)} FROM ({select_sql}) AS s WHERE {condition} "
                    f"ON CONFLICT ({', '.join(key_cols)}) {action}", params)
        rows = cur.rowcount
    pg.commit()
    return rows


def _scalar(pg: Any, sql: str) -> Any:
    with pg.cursor() as cur:
        cur.execute(sql)
        value = cur.fetchone()[0]
    pg.commit()
    return value


def transform_table(loaded: dict[str, Any], settings: Settings, ids: ConnIds = DEFAULT_IDS) -> dict[str, Any]:
    """Bring ``public.<table>`` up to date with ``raw``; returns ``loaded`` plus the transform figures."""
    started = time.monotonic()
    table, strategy = loaded["table"], loaded["strategy"]
    target = table.lower()
    with postgres(ids.analytics) as pg:
        ensure_schemas(pg)
        raw_columns = pg_table_columns(pg, RAW, table)
        if not raw_columns:
            raise TransformError(f"table {table}: raw.{table} does not exist (run its load first)")
        custom = custom_sql(table)
        select_sql = _strip_sql(custom) if custom else generic_sql(table, raw_columns)
        columns = output_columns(pg, select_sql)
        keys = [snake_case(k) for k in loaded["primary_key"]]
        missing = [k for k in keys if k not in columns]
        if missing:
            raise TransformError(f"table {table}: transform output lacks key column(s) {', '.join(missing)}")
        watermark = snake_case(loaded["watermark_column"]) if loaded.get("watermark_column") else None
        key = snake_case(loaded["key_column"]) if loaded.get("key_column") else None
        existing = [name for name, _ in pg_table_columns(pg, PUBLIC, target)]
        live = qualified(PUBLIC, target)
        mode = strategy
        if (loaded.get("raw_rebuilt") or existing != columns or strategy == "full" or not keys
                or (custom and ALWAYS_FULL.search(custom))):
            mode = "full"
        since = after = None
        if mode == "incremental":
            if watermark not in columns:
                mode = "full"
            else:
                since = window_start(as_text(_scalar(pg, f"SELECT MAX({pg_ident(watermark)}) FROM {live}")),
                                     settings.overlap)
                mode = "full" if since is None else mode
        if mode == "append_only":
            after = _scalar(pg, f"SELECT MAX({pg_ident(key)}) FROM {live}") if key in columns else None
            mode = "full" if after is None else mode
        if mode == "full":
            log.info("%s: rebuilding public.%s (%s transform) and swapping it in", table, target,
                     "hand-written" if custom else "generic")
            rebuild(pg, target, select_sql, keys, watermark if watermark in columns else None)
            vacuum_analyze(pg, live)
            rows = int(_scalar(pg, f"SELECT COUNT(*) FROM {live}"))
        elif mode == "incremental":
            log.info("%s: upserting rows with %s >= %s into public.%s", table, watermark, since, target)
            rows = upsert(pg, target, select_sql, columns, keys, f"s.{pg_ident(watermark)} >= %s", [since])
        else:
            log.info("%s: appending rows with %s > %s into public.%s", table, key, after, target)
            rows = upsert(pg, target, select_sql, columns, keys, f"s.{pg_ident(key)} > %s", [after])
        public_total = rows if mode == "full" else None  # whole-table counts are validation's job
    seconds = time.monotonic() - started
    stages = {**loaded["stages"], "transform": {"rows": rows, "seconds": round(seconds, 3),
                                                "public_rows": public_total, "mode": mode}}
    return {**loaded, "stages": stages}
