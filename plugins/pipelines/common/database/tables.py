"""Table names as the settings give them, and the SQL pieces every partition job's tables share: the
partition predicate and the engine's current UTC time as a column default."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from pipelines.common.identifiers import is_identifier, require_table_name
from pipelines.common.partitions import PartitionError


class TableNameError(PartitionError, ValueError):
    """A table or column name that cannot be quoted safely."""


class UtcNow(FunctionElement):
    """The engine's current UTC time, for ``extracted_at``-style defaults."""

    type = sa.DateTime()
    inherit_cache = True


@compiles(UtcNow)
def _utc_now_default(element: UtcNow, compiler: object, **kw: object) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(UtcNow, "mssql")
def _utc_now_mssql(element: UtcNow, compiler: object, **kw: object) -> str:
    return "SYSUTCDATETIME()"


@compiles(UtcNow, "postgresql")
def _utc_now_postgresql(element: UtcNow, compiler: object, **kw: object) -> str:
    return "(now() AT TIME ZONE 'utc')"


@dataclass(frozen=True)
class TableName:
    """``schema.table`` (schema optional); each part a plain identifier, so it can be quoted safely."""

    schema: str | None
    name: str

    @classmethod
    def parse(cls, qualified: str) -> TableName:
        try:
            parts = require_table_name(qualified.strip()).split(".")
        except ValueError:
            raise TableNameError(f"not a valid table name: {qualified!r} (expected schema.table)") from None
        return cls(parts[0], parts[1]) if len(parts) == 2 else cls(None, parts[0])

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


def check_identifier(name: str, what: str) -> str:
    if not is_identifier(name or ""):
        raise TableNameError(f"not a valid {what} name: {name!r}")
    return name


def effective_schema(table: TableName, dialect_name: str) -> str | None:
    # SQLite has no schemas: dbo.app_xml is simply app_xml there.
    return None if dialect_name == "sqlite" else table.schema


def in_partition(app_id: sa.ColumnElement, mod: int, rem: int) -> sa.ColumnElement[bool]:
    return (app_id % mod) == rem
