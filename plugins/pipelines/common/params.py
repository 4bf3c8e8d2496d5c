"""Typed Params for the trigger form: each has a title and a description, and the UI validates it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from difflib import get_close_matches
from typing import Any

from airflow.sdk import Param

from pipelines.common.identifiers import IDENTIFIER_PATTERN


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


def modulo_partition_params(*, workers: int, batch: int, max_batch: int, unit: str, workers_note: str
                            ) -> dict[str, Param]:
    """The params of a DAG fanned out over ``app_id % workers`` remainders: workers, batch, limit, remainders.

    ``unit`` names what a batch counts (``rows``, ``applications``); ``workers_note`` ends the workers'
    description (what a partition is, whether the modulus must stay stable)."""
    return {
        "workers": int_param(workers, title="Workers (modulus)", minimum=1, maximum=64,
                             description=f"Partitions: app_id % workers. {workers_note}"),
        "batch": int_param(batch, title="Batch", minimum=1, maximum=max_batch,
                           description=f"{unit.capitalize()} per keyset read and per transaction."),
        "limit": int_param(0, title="Limit per partition", minimum=0,
                           description=f"Stop each partition after this many {unit} (0 = all)."),
        "remainders": int_list_param(title="Remainders", description="Run only these partitions (e.g. "
                                     "[2, 5]); each must lie in 0..workers-1. Empty = all."),
    }


def identifier_list_param(*, title: str, description: str, default: Any = None) -> Param:
    """An optional list of SQL-safe identifiers (letters, digits, underscore; no quotes or spaces)."""
    return Param(default, type=["null", "array"], items={"type": "string", "pattern": IDENTIFIER_PATTERN},
                 uniqueItems=True, title=title, description=description)


def date_param(default: str, *, title: str, description: str, sentinel: str | None = None) -> Param:
    """A ``YYYY-MM-DD`` calendar date, or the given sentinel value (e.g. ``_NONE_``).

    ``format: date`` alone does the check (jsonschema's date format is ``YYYY-MM-DD`` that exists, so
    2026-02-30 is refused when the run is triggered), and gives the trigger form a date picker. A refusal
    then reads ``'2026-3-1' is not a 'date'``: no regex, and the sentinel goes through ``if``/``then``
    rather than ``anyOf``, whose refusal would only say "not valid under any of the given schemas"."""
    if sentinel is None:
        return Param(default, type="string", format="date", title=title, description=description)
    return Param(default, type="string", title=title, description=description,
                 **{"if": {"not": {"const": sentinel}}, "then": {"format": "date"}})


def unknown_conf_keys(conf: Mapping[str, Any] | None, declared: Iterable[str]) -> str | None:
    """One line naming the keys of ``conf`` that are not declared params, with the valid ones; None if all
    are known. Airflow accepts any extra key at trigger time, so a typo (``wrokers``) would silently run
    with the default: the widest job."""
    valid = sorted(declared)
    unknown = sorted(set(conf or {}) - set(valid))
    if not unknown:
        return None
    hints = [f"{key!r} (did you mean {match[0]!r}?)" if (match := get_close_matches(key, valid, n=1)) else repr(key)
             for key in unknown]
    return (f"unknown conf key{'s' if len(unknown) > 1 else ''} {', '.join(hints)}; "
            f"valid keys: {', '.join(valid) if valid else 'none (this DAG takes no conf)'}")
