"""Business-total checks as declared in opendental.yaml (``business_checks``), and the per-day SQL
each declaration gives on both sides: the source (MySQL, the column names as declared) and ``public``
(PostgreSQL, lowercase table, snake_case columns, as every transform names them).

A check sums one column per day of a date column over the last ``days`` days, optionally over the rows
whose columns equal given values. Names are validated identifiers, quoted when used; every value (filter
values, the window's dates) is a query parameter, never part of the SQL text.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator

from pipelines.common.config import StrictModel
from pipelines.common.identifiers import require_identifier
from pipelines.opendental.identifiers import mysql_ident, pg_ident, snake_case

FilterValue = int | str


class Tolerance(StrictModel):
    """Totals agree when they differ by at most ``absolute`` or by at most ``relative`` of the larger one
    (``public`` rounds money to 2 decimals per row, so a day's sums may differ by cents)."""

    absolute: Decimal = Field(Decimal("0.01"), ge=0)
    relative: Decimal = Field(Decimal("0"), ge=0, lt=1)

    def allows(self, source_total: Decimal, public_total: Decimal) -> bool:
        difference = abs(source_total - public_total)
        return difference <= self.absolute or difference <= self.relative * max(abs(source_total), abs(public_total))

    @property
    def text(self) -> str:
        return f"{self.absolute} or {float(self.relative * 100):g}%"


class BusinessCheck(StrictModel):
    table: str
    sum: str
    day: str
    where: dict[str, FilterValue | list[FilterValue]] = Field(default_factory=dict)
    days: int = Field(30, ge=1, le=366)
    tolerance: Tolerance = Tolerance()

    @field_validator("table", "sum", "day")
    @classmethod
    def _names(cls, name: str) -> str:
        return require_identifier(name, "column or table")

    @field_validator("where")
    @classmethod
    def _filters(cls, where: dict[str, Any]) -> dict[str, Any]:
        for column, value in where.items():
            require_identifier(column, "where column")
            if isinstance(value, list) and not value:
                raise ValueError(f"where {column}: an empty list matches no row")
        return where

    def applies_to(self, table: str) -> bool:
        return self.table.lower() == table.lower()

    def window(self, today: date) -> tuple[date, date]:
        """The ``days`` days ending with ``today`` (inclusive both ends)."""
        return today - timedelta(days=self.days - 1), today

    def source_query(self, today: date) -> tuple[str, list[Any]]:
        return self._query(mysql_ident, mysql_ident(self.table), lambda c: c, today)

    def public_query(self, today: date) -> tuple[str, list[Any]]:
        return self._query(pg_ident, f"{pg_ident('public')}.{pg_ident(self.table.lower())}", snake_case, today)

    def _query(self, quote: Any, table: str, name: Any, today: date) -> tuple[str, list[Any]]:
        """``SELECT day, SUM(col) ... GROUP BY day`` with the check's window and filters, and its parameters."""
        day = quote(name(self.day))
        conditions = [f"{day} BETWEEN %s AND %s"]
        params: list[Any] = list(self.window(today))
        for column, value in self.where.items():
            values = value if isinstance(value, list) else [value]
            placeholders = ", ".join(["%s"] * len(values))
            conditions.append(f"{quote(name(column))} IN ({placeholders})")
            params.extend(values)
        sql = (f"SELECT {day}, SUM({quote(name(self.sum))}) FROM {table} WHERE {' AND '.join(conditions)} "
               f"GROUP BY {day} ORDER BY {day}")
        return sql, params


def checks_for(checks: dict[str, BusinessCheck], table: str) -> dict[str, BusinessCheck]:
    return {name: check for name, check in checks.items() if check.applies_to(table)}
