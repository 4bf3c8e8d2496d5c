"""What a database error means for a partition job: the rows themselves were refused (no retry helps), or
the connection failed (a retry may)."""

from __future__ import annotations

import sqlalchemy as sa


def refusal_kind(exc: BaseException, dialect: sa.Dialect) -> str | None:
    """``IntegrityError, SQLSTATE 23514`` when the database refused the rows themselves (an integrity or
    data error: the same rows are refused on every retry), else None. The driver's own error arrives
    wrapped by SQLAlchemy, or bare from a bulk path that talks to the driver (COPY on psycopg). Only the
    code is kept, never the driver's text: it may quote row values."""
    dbapi = dialect.loaded_dbapi
    orig = getattr(exc, "orig", exc)
    if isinstance(exc, sa.exc.IntegrityError) or isinstance(orig, dbapi.IntegrityError):
        kind = "IntegrityError"
    elif isinstance(exc, sa.exc.DataError) or isinstance(orig, dbapi.DataError):
        kind = "DataError"
    else:
        return None
    sqlstate = getattr(orig, "sqlstate", None)  # psycopg
    if sqlstate:
        return f"{kind}, SQLSTATE {sqlstate}"
    number = next(iter(getattr(orig, "args", ())), None)  # pymssql: (number, message)
    return f"{kind}, error {number}" if isinstance(number, int) else kind


def is_connection_error(exc: BaseException, dialect: sa.Dialect) -> bool:
    """The connection or the server failed, not the rows: narrowing a batch down would not help."""
    if isinstance(exc, sa.exc.DBAPIError):
        return exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError)
    dbapi = dialect.dbapi
    return dbapi is not None and isinstance(exc, getattr(dbapi, "OperationalError", ()))


def is_database_error(exc: BaseException, dialect: sa.Dialect) -> bool:
    """Raised by the database (wrapped by SQLAlchemy, or bare from the driver's COPY), not by our code."""
    dbapi = dialect.dbapi
    return isinstance(exc, sa.exc.DBAPIError) or (dbapi is not None and isinstance(exc, dbapi.Error))


def describe_refusal(exc: BaseException, table: str) -> str:
    """The error's class, SQLSTATE, table and constraint or column: never the refused value."""
    orig = getattr(exc, "orig", None) or exc
    diag = getattr(orig, "diag", None)
    parts = [type(orig).__name__, f"on {table}"]
    state = getattr(orig, "sqlstate", None) or getattr(diag, "sqlstate", None)
    if state:
        parts.append(f"(SQLSTATE {state})")
    for attribute in ("constraint_name", "column_name"):
        value = getattr(diag, attribute, None) if diag is not None else None
        if value:
            parts.append(f"{attribute.split('_')[0]} {value}")
    return " ".join(parts)
