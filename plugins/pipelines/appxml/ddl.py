"""Staging table and index DDL: the SQL files under include/sql/<engine>/appxml/ for SQL Server and
PostgreSQL, SQLAlchemy's portable DDL for any other engine (SQLite in unit tests)."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from pipelines.appxml.tables import index_name, progress_name, progress_table, staging_index, staging_table
from pipelines.common.database.tables import TableName
from pipelines.common.paths import read_sql

log = logging.getLogger(__name__)
SQL_DIRS = {"mssql": "mssql/appxml", "postgresql": "postgres/appxml"}


def render_sql(file_name: str, dialect: sa.Dialect, staging: TableName) -> list[str]:
    """The statements of one SQL file with the table and index names quoted for this dialect."""
    quote = dialect.identifier_preparer.quote
    schema = staging.schema or ("dbo" if dialect.name == "mssql" else "public")
    index = index_name(staging)
    text = read_sql(f"{SQL_DIRS[dialect.name]}/{file_name}").format(
        schema=quote(schema),
        table=f"{quote(schema)}.{quote(staging.name)}",
        table_literal=f"{schema}.{staging.name}",
        index=quote(index),
        index_literal=index,
    )
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in body.split(";") if statement.strip()]


def _run_file(engine: sa.Engine, file_name: str, staging: TableName) -> None:
    with engine.begin() as conn:
        for statement in render_sql(file_name, engine.dialect, staging):
            conn.exec_driver_sql(statement)


def ensure_staging_table(engine: sa.Engine, staging: TableName) -> None:
    """The staging table and its progress table (which partitions reached their end), when missing."""
    if engine.dialect.name in SQL_DIRS:
        _run_file(engine, "create_staging_table.sql", staging)
        _run_file(engine, "create_progress_table.sql", progress_name(staging))
    else:
        staging_table(staging, engine.dialect.name).create(engine, checkfirst=True)
        progress_table(staging, engine.dialect.name).create(engine, checkfirst=True)
    log.info("Staging table %s and %s are ready", staging, progress_name(staging))


def _staging_index_ddl(engine: sa.Engine, staging: TableName, sql_file: str, create: bool) -> None:
    if engine.dialect.name in SQL_DIRS:
        _run_file(engine, sql_file, staging)
        return
    index = staging_index(staging_table(staging, engine.dialect.name), index_name(staging))
    (index.create if create else index.drop)(engine, checkfirst=True)


def drop_staging_index(engine: sa.Engine, staging: TableName) -> None:
    _staging_index_ddl(engine, staging, "drop_index.sql", create=False)
    log.info("Index %s on %s dropped (if it existed)", index_name(staging), staging)


def create_staging_index(engine: sa.Engine, staging: TableName) -> None:
    _staging_index_ddl(engine, staging, "create_index.sql", create=True)
    log.info("Index %s on %s is in place", index_name(staging), staging)
