"""Source and staging tables as SQLAlchemy Core objects, and every statement the staging loop issues.

Statements are built with SQLAlchemy Core so each engine gets its own SQL: ``TOP``/``OFFSET`` and bracket
quoting on SQL Server, ``LIMIT`` and double quotes on PostgreSQL and SQLite. Mixed-case names such as
``app_XML`` are quoted by SQLAlchemy wherever they appear.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.mssql import base as mssql_types

from pipelines.common.database.tables import TableName, UtcNow, check_identifier, effective_schema, in_partition

STAGING_XML_COLUMN = "app_XML"


# NVARCHAR(MAX) on SQL Server whatever SQLAlchemy guesses about the server version (never NTEXT).
_XML_TEXT = sa.UnicodeText().with_variant(mssql_types.NVARCHAR(), "mssql")
_EXTRACTED_AT = sa.DateTime().with_variant(mssql_types.DATETIME2(), "mssql")


def source_table(name: TableName, column: str, dialect_name: str) -> sa.Table:
    return sa.Table(
        name.name, sa.MetaData(),
        sa.Column("app_id", sa.Integer, primary_key=True),
        sa.Column(check_identifier(column, "source column"), _XML_TEXT),
        schema=effective_schema(name, dialect_name),
    )


def staging_table(name: TableName, dialect_name: str) -> sa.Table:
    return sa.Table(
        name.name, sa.MetaData(),
        sa.Column("app_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column(STAGING_XML_COLUMN, _XML_TEXT, nullable=True),
        sa.Column("extracted_at", _EXTRACTED_AT, nullable=False, server_default=UtcNow()),
        schema=effective_schema(name, dialect_name),
    )


def progress_name(staging: TableName) -> TableName:
    """``dbo.app_xml_staging_progress`` for the default staging table."""
    return TableName(staging.schema, f"{staging.name}_progress")


def progress_table(staging: TableName, dialect_name: str) -> sa.Table:
    """One row per partition (modulus = ``workers``, remainder) that ever ran: has it reached its end?"""
    name = progress_name(staging)
    return sa.Table(
        name.name, sa.MetaData(),
        sa.Column("modulus", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("remainder", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("finished", sa.Boolean, nullable=False),
        sa.Column("updated_at", _EXTRACTED_AT, nullable=False, server_default=UtcNow()),
        schema=effective_schema(name, dialect_name),
    )


def record_partition(progress: sa.Table, mod: int, rem: int, finished: bool) -> list[sa.Executable]:
    """The statements (one transaction) that set a partition's row: replaced, so it works on every engine."""
    key = (progress.c.modulus == mod) & (progress.c.remainder == rem)
    return [sa.delete(progress).where(key),
            sa.insert(progress).values(modulus=mod, remainder=rem, finished=finished)]


def partitions_of_other_moduli(progress: sa.Table, mod: int) -> sa.Select:
    return sa.select(progress.c.modulus, progress.c.remainder, progress.c.finished).where(progress.c.modulus != mod)


def index_name(staging: TableName) -> str:
    """``IX_app_xml_staging_app_id`` for the default staging table."""
    return f"IX_{staging.name}_app_id"


def staging_index(table: sa.Table, name: str) -> sa.Index:
    return sa.Index(name, table.c.app_id)


def select_batch(src: sa.Table, column: str, mod: int, rem: int, after: int | None, batch: int) -> sa.Select:
    """The next keyset page of one partition: ``batch`` rows with app_id above ``after``."""
    query = sa.select(src.c.app_id, src.c[column]).where(in_partition(src.c.app_id, mod, rem))
    if after is not None:
        query = query.where(src.c.app_id > after)
    return query.order_by(src.c.app_id).limit(batch)


def count_remaining(src: sa.Table, mod: int, rem: int, after: int | None) -> sa.Select:
    query = sa.select(sa.func.count()).select_from(src).where(in_partition(src.c.app_id, mod, rem))
    return query.where(src.c.app_id > after) if after is not None else query


def max_staged(stg: sa.Table, mod: int, rem: int) -> sa.Select:
    """The resume point of a partition: its highest app_id already staged."""
    return sa.select(sa.func.max(stg.c.app_id)).where(in_partition(stg.c.app_id, mod, rem))


def max_staged_per_remainder(stg: sa.Table, mod: int) -> sa.Select:
    """(remainder, highest staged app_id) of every remainder of ``mod`` that has rows: one scan. The
    remainder is computed in a subquery so that SQL Server groups by the same expression it selects."""
    ids = sa.select((stg.c.app_id % mod).label("remainder"), stg.c.app_id).subquery()
    return sa.select(ids.c.remainder, sa.func.max(ids.c.app_id)).group_by(ids.c.remainder)


def delete_range(stg: sa.Table, mod: int, rem: int, low: int, high: int) -> sa.Delete:
    """Clears the partition's rows in [low, high] so a batch can be written again without a key conflict."""
    return sa.delete(stg).where(stg.c.app_id.between(low, high), in_partition(stg.c.app_id, mod, rem))
