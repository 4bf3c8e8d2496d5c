"""One bulk write per batch and table, never a round trip per row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

#: SQL Server takes at most 2,100 parameters a statement and 1,000 rows a VALUES list.
MAX_PARAMETERS, MAX_VALUES_ROWS = 2000, 1000


def rows_per_insert(columns: int) -> int:
    """Rows of one multi-row ``INSERT ... VALUES`` that stay under SQL Server's limits."""
    return max(1, min(MAX_VALUES_ROWS, MAX_PARAMETERS // max(1, columns)))


def bulk_insert(conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """COPY on PostgreSQL (psycopg 3), pyodbc's fast_executemany on SQL Server through pyodbc, multi-row
    INSERT ... VALUES elsewhere (pymssql, the MSSQL provider's driver, would otherwise send one INSERT per
    row)."""
    if not rows:
        return
    dialect = conn.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        _copy_rows(conn, table, columns, rows)
        return
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    if dialect.name == "mssql" and dialect.driver == "pyodbc":
        conn.execute(sa.insert(table), records)  # fast_executemany: one array-bound round trip
        return
    step = rows_per_insert(len(columns))
    for start in range(0, len(records), step):
        conn.execute(sa.insert(table).values(records[start:start + step]))


def _copy_rows(conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    quote = conn.dialect.identifier_preparer
    names = ", ".join(quote.quote(name) for name in columns)
    sql = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
