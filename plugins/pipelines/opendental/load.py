"""Load: MySQL replica -> PostgreSQL ``raw``, always through COPY.

The replica's server encodes every row as one CSV line (zero dates already empty = NULL, text quoted,
blobs as bytea hex); Python streams those lines from a server-side cursor straight into ``COPY``, so
memory is bounded by the fetch size. Full loads fill a shadow table that replaces the live one in one
transaction; incremental loads COPY into a temporary table and upsert by primary key.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pipelines.common.paths import read_sql
from pipelines.opendental.config import Settings
from pipelines.opendental.connections import DEFAULT_IDS, ConnIds, mysql, postgres, streaming_cursor
from pipelines.opendental.extract import SHADOW_SUFFIX, TableMissingError
from pipelines.opendental.identifiers import mysql_ident, pg_ident
from pipelines.opendental.progress import Progress
from pipelines.opendental.schema import TableSchema, csv_row_expr, describe, expected_pg_columns, pg_columns_ddl
from pipelines.opendental.state import as_text, window_start

log = logging.getLogger(__name__)

RAW = "raw"


def qualified(schema_name: str, table: str) -> str:
    return f"{pg_ident(schema_name)}.{pg_ident(table)}"


def pg_table_columns(pg: Any, schema_name: str, table: str) -> list[tuple[str, str]]:
    with pg.cursor() as cur:
        cur.execute(read_sql("postgres/opendental/table_columns.sql"), {"schema": schema_name, "table": table})
        return [(name, type_) for name, type_ in cur.fetchall()]


def ensure_schemas(pg: Any) -> None:
    with pg.cursor() as cur:
        for statement in read_sql("postgres/opendental/schemas.sql").split(";"):
            if statement.strip():
                cur.execute(statement)
    pg.commit()


def stream_into_copy(replica: Any, pg_cur: Any, schema: TableSchema, target: str, settings: Settings,
                     progress: Progress, where: str = "", params: list[Any] | None = None,
                     freeze: bool = False) -> int:
    """Stream the replica's rows as CSV lines into ``COPY target``; returns the row count."""
    columns = ", ".join(pg_ident(c.name) for c in schema.columns)
    cur = streaming_cursor(replica)
    cur.execute(f"SELECT {csv_row_expr(schema)} FROM {mysql_ident(schema.name)} {where}", params or [])
    rows_copied = 0
    try:
        options = "FORMAT csv, FREEZE" if freeze else "FORMAT csv"
        with pg_cur.copy(f"COPY {target} ({columns}) FROM STDIN ({options})") as copy:
            while rows := cur.fetchmany(settings.fetch_rows):
                copy.write(b"\n".join([row[0] for row in rows]) + b"\n")
                rows_copied += len(rows)
                progress.advance(len(rows))
    finally:
        cur.close()
    return rows_copied


def full_load(replica: Any, pg: Any, schema: TableSchema, watermark: str | None, settings: Settings,
              progress: Progress) -> tuple[int, float]:
    """COPY into a fresh shadow table, key and index it, then swap it in (readers never see it half)."""
    live, shadow = qualified(RAW, schema.name), qualified(RAW, schema.name + SHADOW_SUFFIX)
    with pg.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {shadow}")
        cur.execute(f"CREATE TABLE {shadow} (\n  {pg_columns_ddl(schema, with_primary_key=False)}\n)")
        copy_started = time.monotonic()
        # FREEZE: the table was created in this transaction, so rows are written already frozen and
        # all-visible (no hint-bit rewrite later; the VACUUM after the swap has almost nothing to do).
        rows = stream_into_copy(replica, cur, schema, shadow, settings, progress, freeze=True)
        copy_seconds = time.monotonic() - copy_started
        # Keys and indexes after the bulk COPY: one sort instead of a B-tree insert per row.
        if schema.primary_key:
            cur.execute(f"ALTER TABLE {shadow} ADD PRIMARY KEY ("
                        + ", ".join(pg_ident(k) for k in schema.primary_key) + ")")
        if watermark:
            cur.execute(f"CREATE INDEX ON {shadow} ({pg_ident(watermark)})")
        cur.execute(f"DROP TABLE IF EXISTS {live}")
        cur.execute(f"ALTER TABLE {shadow} RENAME TO {pg_ident(schema.name)}")
    pg.commit()
    return rows, copy_seconds


def upsert_load(replica: Any, pg: Any, schema: TableSchema, settings: Settings, progress: Progress,
                where: str, params: list[Any]) -> int:
    """COPY the changed rows into a temporary table, then INSERT ... ON CONFLICT (pk) DO UPDATE."""
    live = qualified(RAW, schema.name)
    temp = pg_ident(f"{schema.name}__etl_changes")
    columns = [pg_ident(c.name) for c in schema.columns]
    keys = [pg_ident(k) for k in schema.primary_key]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in keys)
    with pg.cursor() as cur:
        cur.execute(f"CREATE TEMPORARY TABLE {temp} (LIKE {live}) ON COMMIT DROP")
        rows = stream_into_copy(replica, cur, schema, temp, settings, progress, where, params)
        conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        cur.execute(f"INSERT INTO {live} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM {temp} "
                    f"ON CONFLICT ({', '.join(keys)}) {conflict}")
    pg.commit()
    return rows


def append_load(replica: Any, pg: Any, schema: TableSchema, settings: Settings, progress: Progress,
                key: str, after: Any) -> int:
    """Rows past the raw table's highest key, COPY'd straight into it (one transaction)."""
    where, params = ("", []) if after is None else (f"WHERE {mysql_ident(key)} > %s", [after])
    with pg.cursor() as cur:
        rows = stream_into_copy(replica, cur, schema, qualified(RAW, schema.name), settings, progress, where,
                                params)
    pg.commit()
    return rows


def vacuum_analyze(pg: Any, qualified_name: str) -> None:
    """Statistics and a visibility map for a freshly bulk-loaded table: the planner then uses the watermark
    index for the next incremental run, and COUNT(*) in validation reads the key index, not the heap."""
    pg.commit()
    pg.autocommit = True
    try:
        with pg.cursor() as cur:
            cur.execute(f"VACUUM (ANALYZE) {qualified_name}")
    finally:
        pg.autocommit = False


def _scalar(pg: Any, sql: str) -> Any:
    with pg.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def load_table(extracted: dict[str, Any], settings: Settings, ids: ConnIds = DEFAULT_IDS) -> dict[str, Any]:
    """Bring ``raw.<table>`` up to date with the replica; returns ``extracted`` plus the load figures."""
    started = time.monotonic()
    table, strategy = extracted["table"], extracted["strategy"]
    watermark, key = extracted.get("watermark_column"), extracted.get("key_column")
    with mysql(ids.replica) as replica, postgres(ids.analytics) as pg:
        schema = describe(replica.cursor(), table)
        if schema is None:
            raise TableMissingError(f"table {table}: not in the replica (run its extract first)")
        ensure_schemas(pg)
        existing = pg_table_columns(pg, RAW, table)
        drift = bool(existing) and existing != expected_pg_columns(schema)
        if drift:
            log.warning("%s: raw table differs from the replica's columns or types: rebuilding it with a full "
                        "load", table)
        live = qualified(RAW, table)
        mode = "full" if (extracted["mode"] == "full" or not existing or drift) else strategy
        since = after = None
        if mode == "incremental":
            since = window_start(as_text(_scalar(pg, f"SELECT MAX({pg_ident(watermark)}) FROM {live}")),
                                 settings.overlap)
            mode = "full" if since is None else mode
        elif mode == "append_only":
            after = _scalar(pg, f"SELECT MAX({pg_ident(key)}) FROM {live}")
        copy_seconds = None
        progress = Progress(f"{table} load", total=schema.estimated_rows if mode == "full" else None)
        if mode == "full":
            log.info("%s: full load into raw via a shadow table", table)
            rows, copy_seconds = full_load(replica, pg, schema, watermark, settings, progress)
            vacuum_analyze(pg, live)
        elif mode == "incremental":
            log.info("%s: incremental load of rows with %s >= %s (raw's latest minus overlap), upsert by key",
                     table, watermark, since)
            rows = upsert_load(replica, pg, schema, settings, progress, f"WHERE {mysql_ident(watermark)} >= %s",
                               [since])
        else:
            log.info("%s: append-only load after %s = %s", table, key, after)
            rows = append_load(replica, pg, schema, settings, progress, key, after)
        # Whole-table counts are validation's job; a full load counts for its own figures at little cost.
        raw_total = int(_scalar(pg, f"SELECT COUNT(*) FROM {live}")) if mode == "full" else None
    progress.done()
    seconds = time.monotonic() - started
    stages = {**extracted["stages"], "load": {"rows": rows, "seconds": round(seconds, 3), "raw_rows": raw_total,
                                              "mode": mode, "since": since,
                                              "copy_seconds": None if copy_seconds is None else round(copy_seconds, 3)}}
    return {**extracted, "raw_rebuilt": mode == "full", "stages": stages}
