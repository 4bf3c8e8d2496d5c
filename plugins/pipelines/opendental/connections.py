"""The three databases, reached through Airflow connections by id (credentials stay in the connections)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from pipelines.common.errors import require_connection
from pipelines.common.paths import read_sql
from pipelines.opendental.config import ANALYTICS_CONN_ID, REPLICA_CONN_ID, SOURCE_CONN_ID
from pipelines.opendental.errors import ConnectionCheckError


@dataclass(frozen=True)
class ConnIds:
    source: str = SOURCE_CONN_ID
    replica: str = REPLICA_CONN_ID
    analytics: str = ANALYTICS_CONN_ID


DEFAULT_IDS = ConnIds()


def _mysql_hook(conn_id: str) -> Any:
    from airflow.providers.mysql.hooks.mysql import MySqlHook

    return MySqlHook(mysql_conn_id=conn_id)


@contextmanager
def mysql(conn_id: str, *, read_only: bool = False) -> Iterator[Any]:
    """A MySQLdb connection (autocommit) set up for exact copies: UTC, zero dates kept, no strict mode."""
    conn = _mysql_hook(conn_id).get_conn()
    try:
        conn.autocommit(True)
        cur = conn.cursor()
        cur.execute(read_sql("mysql/opendental/session_setup.sql"))
        if read_only:
            # The source is production: this session can only read, whatever the account may do.
            cur.execute("SET SESSION TRANSACTION READ ONLY")
        cur.close()
        yield conn
    finally:
        conn.close()


@contextmanager
def postgres(conn_id: str) -> Iterator[Any]:
    """A psycopg 3 connection (transactions managed by the caller), session time zone UTC."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn = PostgresHook(postgres_conn_id=conn_id).get_conn()
    try:
        with conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
        conn.commit()
        yield conn
    finally:
        conn.close()


def streaming_cursor(conn: Any) -> Any:
    """A server-side (unbuffered) cursor: memory bounded by the fetch size, not the table."""
    import MySQLdb.cursors

    return conn.cursor(MySQLdb.cursors.SSCursor)


def connection_failed(conn_id: str, engine: str, exc: BaseException) -> ConnectionCheckError:
    """One line naming the connection that could not be reached and why."""
    # The first line of a driver error names host/port at most, never the password.
    reason = (str(exc).strip().splitlines() or [""])[0][:200]
    return ConnectionCheckError(f"connection {conn_id!r} ({engine}) failed: {type(exc).__name__}: {reason}")


@contextmanager
def checked_mysql(conn_id: str, *, read_only: bool = False) -> Iterator[Any]:
    """``mysql()`` whose failure to connect is the connection test's one line; errors of the work done with
    the connection pass unchanged."""
    require_connection(conn_id)
    with ExitStack() as stack:
        try:
            conn = stack.enter_context(mysql(conn_id, read_only=read_only))
        except Exception as exc:
            raise connection_failed(conn_id, "mysql", exc) from None
        yield conn


def check_connections(ids: ConnIds | None = None) -> dict[str, str]:
    """Connect to each database and run a trivial query; raise naming the first one that fails."""
    ids = ids or DEFAULT_IDS
    checks = [(ids.source, "mysql"), (ids.replica, "mysql"), (ids.analytics, "postgres")]
    versions: dict[str, str] = {}
    for conn_id, engine in checks:
        require_connection(conn_id)
        try:
            if engine == "mysql":
                with mysql(conn_id, read_only=conn_id == ids.source) as conn:
                    cur = conn.cursor()
                    cur.execute("SELECT VERSION()")
                    versions[conn_id] = str(cur.fetchone()[0])
            else:
                with postgres(conn_id) as conn, conn.cursor() as cur:
                    cur.execute("SELECT current_setting('server_version')")
                    versions[conn_id] = str(cur.fetchone()[0])
        except Exception as exc:
            raise connection_failed(conn_id, engine, exc) from None
    return versions
