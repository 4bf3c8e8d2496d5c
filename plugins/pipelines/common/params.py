"""Typed Params for the trigger form: each has a title and a description, and the UI validates it."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

from pipelines.common.config import IDENTIFIER_PATTERN

DATE_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"


def int_param(
    default: int, *, title: str, description: str, minimum: int | None = None, maximum: int | None = None
) -> Param:
    bounds = {key: value for key, value in (("minimum", minimum), ("maximum", maximum)) if value is not None}
    return Param(default, type="integer", title=title, description=description, **bounds)


def bool_param(default: bool, *, title: str, description: str) -> Param:
    return Param(default, type="boolean", title=title, description=description)


def enum_param(default: str, values: list[str], *, title: str, description: str) -> Param:
    return Param(default, type="string", enum=values, title=title, description=description)


def int_list_param(
    *, title: str, description: str, minimum: int = 0, maximum: int | None = None, default: Any = None
) -> Param:
    """An optional list of integers (null = not given), each within [minimum, maximum]."""
    items: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        items["maximum"] = maximum
    return Param(default, type=["null", "array"], items=items, uniqueItems=True, title=title,
                 description=description)


def identifier_list_param(*, title: str, description: str, default: Any = None) -> Param:
    """An optional list of SQL-safe identifiers (letters, digits, underscore; no quotes or spaces)."""
    return Param(default, type=["null", "array"], items={"type": "string", "pattern": IDENTIFIER_PATTERN},
                 uniqueItems=True, title=title, description=description)


def date_param(default: str, *, title: str, description: str, sentinel: str | None = None) -> Param:
    """A ``YYYY-MM-DD`` string, or the given sentinel value (e.g. ``_NONE_``)."""
    pattern = DATE_PATTERN if sentinel is None else f"({DATE_PATTERN})|^{sentinel}$"
    return Param(default, type="string", pattern=pattern, title=title, description=description)
