"""Database helpers every stage shares: qualified names, one-value reads and counts, atomic swaps, upserts.

MySQLdb and psycopg cursors share enough (``%s`` parameters, context managers) for one helper to serve
both engines where the SQL is the same; where it is not, the helper says which engine it is for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pipelines.common.paths import read_sql
from pipelines.opendental.identifiers import mysql_ident, pg_ident

RAW = "raw"
PUBLIC = "public"
SHADOW_SUFFIX = "__etl_shadow"  # a full copy being filled beside the live table
OLD_SUFFIX = "__etl_old"


def qualify(schema: str, table: str) -> str:
    """``"schema"."table"`` for PostgreSQL."""
    return f"{pg_ident(schema)}.{pg_ident(table)}"


def execute(conn: Any, sql: str | bytes, params: Sequence[Any] | None = None) -> int:
    """Run one statement; returns the rows it affected."""
    with conn.cursor() as cur:
        # No params: MySQLdb would %-format the statement (and trip over a literal %).
        cur.execute(sql, params or None)
        return cur.rowcount


def scalar(conn: Any, sql: str, params: Sequence[Any] | None = None) -> Any:
    """The first value of a one-row query. The read transaction is ended at once (PostgreSQL), so no
    snapshot or lock outlives the read; under MySQL's autocommit the commit is a no-op."""
    with conn.cursor() as cur:
        cur.execute(sql, params or None)
        row = cur.fetchone()
    conn.commit()
    return None if row is None else row[0]


def count(conn: Any, name: str, condition: str | None = None, params: Sequence[Any] | None = None) -> int:
    """Rows of an already quoted table name (``mysql_ident(t)`` or ``qualify(s, t)``), optionally where
    ``condition`` holds."""
    where = f" WHERE {condition}" if condition else ""
    return int(scalar(conn, f"SELECT COUNT(*) FROM {name}{where}", params))


# --- MySQL ---------------------------------------------------------------------------------------------


def mysql_swap_in(conn: Any, table: str, shadow: str, exists: bool) -> None:
    """Readers see the old table or the new one, never a half-filled one (RENAME TABLE is atomic)."""
    if not exists:
        execute(conn, f"RENAME TABLE {mysql_ident(shadow)} TO {mysql_ident(table)}")
        return
    old = table + OLD_SUFFIX
    execute(conn, f"DROP TABLE IF EXISTS {mysql_ident(old)}")
    execute(conn, f"RENAME TABLE {mysql_ident(table)} TO {mysql_ident(old)}, "
                  f"{mysql_ident(shadow)} TO {mysql_ident(table)}")
    execute(conn, f"DROP TABLE {mysql_ident(old)}")


def mysql_upsert_suffix(columns: Iterable[str], keys: Sequence[str]) -> bytes:
    """``ON DUPLICATE KEY UPDATE`` for every non-key column (empty when all columns are key)."""
    updates = [f"{mysql_ident(c)} = VALUES({mysql_ident(c)})" for c in columns if c not in keys]
    return (" ON DUPLICATE KEY UPDATE " + ", ".join(updates)).encode() if updates else b""


# --- PostgreSQL ----------------------------------------------------------------------------------------


def ensure_schemas(pg: Any) -> None:
    with pg.cursor() as cur:
        for statement in read_sql("postgres/opendental/schemas.sql").split(";"):
            if statement.strip():
                cur.execute(statement)
    pg.commit()


def pg_columns(pg: Any, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, type as ``format_type`` prints it) of a table, in order; empty when it does not exist."""
    with pg.cursor() as cur:
        cur.execute(read_sql("postgres/opendental/table_columns.sql"), {"schema": schema, "table": table})
        return [(name, type_) for name, type_ in cur.fetchall()]


def pg_swap_in(cur: Any, schema: str, table: str, shadow: str) -> None:
    """Replace ``schema.table`` by ``schema.shadow`` inside the caller's transaction (readers see one or
    the other, never both or neither)."""
    cur.execute(f"DROP TABLE IF EXISTS {qualify(schema, table)}")
    cur.execute(f"ALTER TABLE {qualify(schema, shadow)} RENAME TO {pg_ident(table)}")


def pg_upsert(cur: Any, target: str, rows_sql: str, columns: Sequence[str], keys: Sequence[str],
              condition: str | None = None, params: Sequence[Any] | None = None) -> int:
    """``INSERT INTO target SELECT ... FROM (rows_sql) s [WHERE condition] ON CONFLICT (keys) DO UPDATE``;
    returns the rows written. ``condition`` may name the rows' columns as ``s."col"``."""
    cols = [pg_ident(c) for c in columns]
    key_cols = [pg_ident(k) for k in keys]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in key_cols)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    where = f" WHERE {condition}" if condition else ""
    cur.execute(f"INSERT INTO {target} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM ({rows_sql}) AS s"
                f"{where} ON CONFLICT ({', '.join(key_cols)}) {action}", params or None)
    return cur.rowcount


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
