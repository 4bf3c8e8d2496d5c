"""Table and column names: validated before any SQL is built, always quoted when used."""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import get_close_matches

from pipelines.common.identifiers import is_identifier
from pipelines.opendental.errors import UnknownTablesError

MYSQL_NAME_LENGTH = 64
#: Up to this many valid tables are listed in a refusal; a production source (446 tables) gets a count instead.
LISTED_TABLES = 20


def is_safe_name(name: str) -> bool:
    """A name that can be a MySQL table and needs no quoting (the project's one identifier rule)."""
    return is_identifier(name) and len(name) <= MYSQL_NAME_LENGTH


def mysql_ident(name: str) -> str:
    """A MySQL identifier in backticks (embedded backticks doubled)."""
    return "`" + name.replace("`", "``") + "`"


def pg_ident(name: str) -> str:
    """A PostgreSQL identifier in double quotes (embedded quotes doubled); case is kept."""
    return '"' + name.replace('"', '""') + '"'


def snake_case(name: str) -> str:
    """OpenDental's PascalCase to snake_case: ``PatNum`` -> ``pat_num``, ``DateTStamp`` -> ``date_t_stamp``."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    text = re.sub(r"([A-Z])([A-Z][a-z])", r"\1_\2", text)
    return re.sub(r"_+", "_", text).lower()


def validate_tables(requested: Iterable[str] | None, available: Iterable[str]) -> list[str]:
    """The requested names mapped to the source's spelling; all of them when none are requested.

    Raises UnknownTablesError listing the unknown names and the valid ones (one line)."""
    by_lower = {name.lower(): name for name in available}
    if not requested:
        return sorted(by_lower.values(), key=str.lower)
    unknown = [name for name in requested if not is_safe_name(str(name)) or str(name).lower() not in by_lower]
    if unknown:
        shown = ", ".join(_with_hint(str(name), by_lower) for name in unknown)
        raise UnknownTablesError(f"unknown tables: {shown}; {_valid_tables(sorted(by_lower))}")
    return [by_lower[str(name).lower()] for name in dict.fromkeys(requested)]


def _with_hint(name: str, by_lower: dict[str, str]) -> str:
    match = get_close_matches(name.lower(), by_lower, n=1)
    return f"{name!r} (did you mean {by_lower[match[0]]!r}?)" if match else repr(name)


def _valid_tables(names: list[str]) -> str:
    if len(names) <= LISTED_TABLES:
        return f"valid tables: {', '.join(names)}"
    return f"{len(names)} valid tables (a dry run lists them)"
