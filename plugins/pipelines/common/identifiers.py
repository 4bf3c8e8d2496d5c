"""SQL-safe identifiers: what table, column, schema and connection names must look like.

A leaf module (it imports nothing of the package) because both the settings loader (``config``) and the
trigger form's Params (``params``) need the rule, and ``params`` must not import the loader: the loader's
errors lead to ``airflow_failures``, which imports ``params``.
"""

from __future__ import annotations

import re

#: A SQL-safe identifier: letters, digits and underscore, not starting with a digit (no quoting needed).
IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


def is_identifier(name: str) -> bool:
    return bool(IDENTIFIER.match(name))


def require_identifier(name: str, what: str = "name") -> str:
    """``name`` when it is a SQL-safe identifier, else a ``ValueError`` naming ``what`` (for validators)."""
    if not is_identifier(name):
        raise ValueError(f"{what} {name!r} is not an identifier (letters, digits, underscore)")
    return name


def require_table_name(qualified: str) -> str:
    """``schema.table`` or ``table``, each part an identifier; a ``ValueError`` otherwise (for validators)."""
    parts = qualified.split(".")
    if not 1 <= len(parts) <= 2:
        raise ValueError(f"{qualified!r} is not a table name (expected schema.table)")
    for part in parts:
        require_identifier(part, "table name part")
    return qualified
