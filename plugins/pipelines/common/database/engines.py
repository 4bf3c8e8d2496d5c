"""SQLAlchemy engines for a partition job, from a URL (CLI, benchmark) or an Airflow connection id.

Each mapped partition builds its own engine: its connections are its own, nothing is shared between
task instances or workers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

# Reader + writer + the short resume/count queries of one partition.
_POOL = {"pool_size": 3, "max_overflow": 1, "pool_pre_ping": True}


def _dialect_kwargs(drivername: str) -> dict[str, Any]:
    # pyodbc's array binding is the SQL Server bulk path; pymssql gets SQLAlchemy's multi-row INSERTs.
    return {"fast_executemany": True} if drivername == "mssql+pyodbc" else {}


def engine_from_url(url: str | sa.URL) -> sa.Engine:
    parsed = sa.make_url(url)
    kwargs: dict[str, Any] = {} if parsed.get_backend_name() == "sqlite" else dict(_POOL)
    return sa.create_engine(parsed, **kwargs, **_dialect_kwargs(parsed.drivername))


def engine_from_conn_id(conn_id: str) -> sa.Engine:
    """The engine of an Airflow connection, whatever its type (mssql in production, postgres in tests)."""
    from airflow.sdk import BaseHook

    hook = BaseHook.get_connection(conn_id).get_hook()
    try:
        url = hook.sqlalchemy_url
    except NotImplementedError:  # MsSqlHook builds its mssql+pymssql URL in get_uri() instead
        url = sa.make_url(hook.get_uri())
    return engine_from_url(url)
