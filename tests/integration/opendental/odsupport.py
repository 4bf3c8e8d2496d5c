"""Helpers for the OpenDental integration tests: three throwaway databases wired to the pipeline's
connection ids, fixture tables filled with generated rows, and row-by-row comparisons between stages."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from devtools.localdb import Database, conn_env_name
from devtools.opendental import generator
from devtools.opendental import tables as project_tables
from devtools.opendental.wide import write_include
from pipelines.opendental.identifiers import mysql_ident, pg_ident

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SHARED_DDL = PROJECT_ROOT / ".." / "shared" / "corpus" / "opendental" / "ddl"
CORE_TABLES = ["patient", "appointment", "procedurelog", "claimproc", "payment"]
FIXTURE_TABLES = sorted(project_tables.TABLES)


@dataclass
class Stack:
    source: Database
    replica: Database
    analytics: Database

    def mysql_rows(self, db: Database, sql: str, params: Any = None) -> list[tuple]:
        conn = db.connect()
        try:
            cur = conn.cursor()
            cur.execute("SET SESSION time_zone = '+00:00'")
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            conn.close()

    def pg_rows(self, sql: str, params: Any = None) -> list[tuple]:
        with self.analytics.connect() as conn:
            return list(conn.execute(sql, params).fetchall())

    def count(self, where: str, table: str) -> int:
        if where == "source":
            return self.source.scalar(f"SELECT COUNT(*) FROM {mysql_ident(table)}")
        if where == "replica":
            return self.replica.scalar(f"SELECT COUNT(*) FROM {mysql_ident(table)}")
        schema = "raw" if where == "raw" else "public"
        name = table if where == "raw" else table.lower()
        return self.analytics.scalar(f"SELECT COUNT(*) FROM {pg_ident(schema)}.{pg_ident(name)}")

    def connections(self) -> dict[str, str]:
        """The pipeline's connection ids and their Airflow connections (JSON) pointing at this stack."""
        return {"opendental_source": self.source.airflow_conn(), "opendental_replication": self.replica.airflow_conn(),
                "opendental_analytics": self.analytics.airflow_conn()}

    def connections_env(self) -> dict[str, str]:
        """The same as ``AIRFLOW_CONN_*`` variables, for the Airflow processes a test starts."""
        return {conn_env_name(conn_id): conn for conn_id, conn in self.connections().items()}

    def counts(self, table: str) -> dict[str, int]:
        return {where: self.count(where, table) for where in ("source", "replica", "raw", "public")}


def make_stack(database_factory: Callable[[str], Database], set_connection: Callable[[str, str], None]) -> Stack:
    stack = Stack(database_factory("mysql"), database_factory("mysql"), database_factory("postgres"))
    for conn_id, conn in stack.connections().items():
        set_connection(conn_id, conn)
    return stack


def include_with(directory: Path, **sections: dict[str, Any]) -> Path:
    """A copy of the project's include/ under ``directory`` whose opendental.yaml has the given
    sections updated (e.g. ``stages={"retries": 1}``); point PIPELINES_INCLUDE_DIR at it."""
    return write_include(directory, **sections)


def seed(db: Database, ddl: Iterable[str], rows: int, seed_value: int = 7) -> list[str]:
    conn = db.connect()
    try:
        tables = generator.load_ddl(conn, ddl)
        for table in tables:
            generator.fill_table(conn, table, rows, seed=seed_value)
        return tables
    finally:
        conn.close()


def fixture_ddl(tables: Iterable[str] | None = None) -> list[str]:
    """CREATE statements of the project's own OpenDental-style tables (all of them by default)."""
    return [project_tables.create_table(table) for table in (tables or FIXTURE_TABLES)]


def _normal(value: Any) -> Any:
    """One comparable form for a MySQL value and its PostgreSQL copy."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return None if value.year <= 1 else value
    if isinstance(value, date):
        return None if value.year <= 1 else value
    if isinstance(value, timedelta):
        return (datetime.min + value).time()
    if isinstance(value, time):
        return value
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, str) and value.startswith("0000-00-00"):
        return None
    return value


def same(a: Any, b: Any) -> bool:
    a, b = _normal(a), _normal(b)
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=1e-6)
    return a == b


def key_of(stack: Stack, table: str) -> list[str]:
    rows = stack.mysql_rows(stack.replica, "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE "
                            "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND INDEX_NAME = 'PRIMARY' "
                            "ORDER BY SEQ_IN_INDEX", [table])
    return [r[0] for r in rows]


def differences(stack: Stack, table: str, limit: int = 5) -> list[str]:
    """Cells where raw differs from the replica (zero dates must be NULL in raw), as 'table.col key=...'."""
    keys = key_of(stack, table)
    cols = [r[0] for r in stack.mysql_rows(
        stack.replica, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", [table])]
    order = keys or cols[:1]
    replica = stack.mysql_rows(stack.replica, f"SELECT {', '.join(mysql_ident(c) for c in cols)} FROM "
                               f"{mysql_ident(table)} ORDER BY {', '.join(mysql_ident(c) for c in order)}")
    raw = stack.pg_rows(f"SELECT {', '.join(pg_ident(c) for c in cols)} FROM raw.{pg_ident(table)} "
                        f"ORDER BY {', '.join(pg_ident(c) for c in order)}")
    problems = [] if len(replica) == len(raw) else [f"{table}: {len(replica)} replica rows, {len(raw)} raw rows"]
    for mine, theirs in zip(replica, raw, strict=False):
        for col, a, b in zip(cols, mine, theirs, strict=True):
            if not same(a, b):
                problems.append(f"{table}.{col} key={mine[cols.index(order[0])]}: {a!r:.60} != {b!r:.60}")
                if len(problems) >= limit:
                    return problems
    return problems
