"""Source tables for tests, the demo and the benchmark: ``dbo.app_xml(app_id, app_XML)`` filled with
synthetic documents or the shared sample corpus. Not used by the pipeline itself."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa

from pipelines.appxml import tables as t
from pipelines.appxml.config import DEFAULT_SOURCE_COLUMN, DEFAULT_SOURCE_TABLE
from pipelines.common.database.tables import TableName

_DIGITS = re.compile(r"\d+")


def create_source_table(engine: sa.Engine, name: str = DEFAULT_SOURCE_TABLE,
                        column: str = DEFAULT_SOURCE_COLUMN) -> sa.Table:
    """An empty source table (dropped first if it exists); its schema is created when missing."""
    table_name = TableName.parse(name)
    table = t.source_table(table_name, column, engine.dialect.name)
    with engine.begin() as conn:
        if table.schema:
            conn.execute(sa.schema.CreateSchema(table.schema, if_not_exists=True))
        table.drop(conn, checkfirst=True)
        table.create(conn)
    return table


def as_text(body: bytes | None) -> str | None:
    """What an NVARCHAR column holds: decoded text (a BOM survives as U+FEFF, as in the real table)."""
    return None if body is None else body.decode("utf-8")


def load_source(engine: sa.Engine, table: sa.Table, rows: Iterable[tuple[int, str | None]],
                chunk: int = 500) -> int:
    """Insert ``(app_id, text)`` rows in chunks; returns the count."""
    column = next(c.name for c in table.columns if c.name != "app_id")
    total, buffer = 0, []
    with engine.begin() as conn:
        for app_id, text in rows:
            buffer.append({"app_id": app_id, column: text})
            if len(buffer) >= chunk:
                conn.execute(sa.insert(table), buffer)
                total, buffer = total + len(buffer), []
        if buffer:
            conn.execute(sa.insert(table), buffer)
            total += len(buffer)
    return total


def corpus_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.glob("*.xml") if path.is_file())


def corpus_app_id(path: Path) -> int | None:
    """The app id in a sample's file name (``cc_127582.xml``, ``rl_10355909-rl-recent.xml``)."""
    match = _DIGITS.search(path.stem)
    return int(match.group()) if match else None
