"""Realistic synthetic rows for any OpenDental table, driven by its DDL (information_schema).

Used by the tests, ``make demo`` and the benchmark. The awkward values OpenDental really holds are
there on purpose: zero dates (``0000-00-00``, ``0001-01-01``), NULLs, quotes and backslashes, tabs and
newlines, 4-byte UTF-8 (in utf8mb4 columns), padded strings, binary blobs with NUL bytes and very wide
text values. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.common.paths import read_sql
from pipelines.opendental.identifiers import mysql_ident
from pipelines.opendental.schema import (
    BINARY_TYPES,
    CHAR_TYPES,
    DATE_TYPES,
    DATETIME_TYPES,
    DECIMAL_TYPES,
    FLOAT_TYPES,
    INTEGER_TYPES,
    TEXT_TYPES,
    TIME_TYPES,
    TIMESTAMP_TYPES,
    Column,
    TableSchema,
    describe,
)

FIRST_NAMES = ["Maria", "José", "Zoë", "Nguyễn", "Ólafur", "Chloé", "Amélie", "Søren", "Łukasz", "Aiyana", "James",
               "Renée", "O'Brien", "Đặng", "Siobhán", "Mary-Kate", "Ana Lucía", "Jürgen", "Fatma", "Kwame"]
LAST_NAMES = ["García", "Smith", "O'Connor", "Müller", "Nuñez", "Dubois", "Kowalski", "Nakamura", "Ålund",
              "Johnson", "D'Angelo", "Van der Berg", "Øster", "Çelik", "Wright", "Papadopoulos"]
WORDS = ["crown", "prophy", "bitewing", "molar", "composite", "root canal", "implant", "periodontal", "sealant",
         "fluoride", "extraction", "pano", "recall", "insurance", "copay", "deductible", "estimate", "note"]
AWKWARD = ["it's \"quoted\"", "back\\slash", "tab\there", "line\nbreak", "crlf\r\nend", "  padded  ", "",
           "comma, separated", "semi;colon", "%percent_", "NULL", "\\N"]
FOUR_BYTE = ["😀", "🦷", "𝄞", "𠜎", "👩‍⚕️"]
ZERO_DATES = ["0000-00-00", "0001-01-01"]
NOW = datetime(2026, 1, 15, 12, 0, 0)

def read_ddl_statements(text: str) -> list[str]:
    """CREATE statements of a DDL file: ``--`` comment lines dropped, split on ``;`` at line ends and before a
    line that starts a new CREATE (one corpus file lacks its final semicolon)."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    statements = re.split(r";\s*(?:\n|$)|\n(?=CREATE\s)", "\n".join(lines), flags=re.IGNORECASE)
    return [s.strip() for s in statements if s.strip()]


def file_statements(paths: Iterable[Path]) -> list[str]:
    """The CREATE statements of DDL files (the shared corpus's, for one)."""
    return [statement for path in paths for statement in read_ddl_statements(path.read_text(encoding="utf-8"))]


def table_name(statement: str) -> str | None:
    """The table a CREATE TABLE statement creates (None for any other statement)."""
    match = re.match(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`?([A-Za-z0-9_]+)`?", statement, re.I)
    return match.group(1) if match else None


def load_ddl(conn: Any, statements: Iterable[str]) -> list[str]:
    """Run each DDL statement as-is in the connection's database; returns the created table names."""
    created = []
    cur = conn.cursor()
    for statement in statements:
        cur.execute(statement)
        if name := table_name(statement):
            created.append(name)
    cur.close()
    return created


class RowGenerator:
    """Values for one table's columns; ``rows(n, first_key)`` yields tuples in column order."""

    def __init__(self, schema: TableSchema, seed: int = 7, wide_every: int = 97,
                 unique: Iterable[str] = ()) -> None:
        self.schema = schema
        self.unique = set(unique) | set(schema.primary_key)
        self.rng = random.Random(f"{schema.name}:{seed}")
        self.wide_every = wide_every
        self.auto_key = schema.auto_increment_key or schema.integer_key

    def rows(self, n: int, first_key: int = 1) -> Iterable[tuple]:
        for i in range(n):
            yield tuple(self.value(col, first_key + i, i) for col in self.schema.columns)

    def value(self, col: Column, key: int, i: int) -> Any:
        rng = self.rng
        if self.auto_key is not None and col.name == self.auto_key.name:
            return key
        if col.name in self.unique and col.data_type in CHAR_TYPES | TEXT_TYPES:
            return f"{col.name}_{key}"[: col.char_length or 255]
        if col.nullable and rng.random() < 0.06:
            return None
        t = col.data_type
        if t in INTEGER_TYPES:
            return self._integer(col)
        if t in DECIMAL_TYPES:
            whole = 10 ** max(0, min((col.precision or 10) - (col.scale or 0), 8)) - 1
            return round(rng.uniform(-whole / 10, whole), col.scale or 0)
        if t in FLOAT_TYPES:
            amount = round(rng.uniform(0, 2500), 2)
            return -amount if rng.random() < 0.04 else amount
        if t in TIMESTAMP_TYPES:
            # Always in the past (at least a day): an incremental run later must see only real changes.
            return NOW - timedelta(days=rng.randint(1, 900), seconds=rng.randint(0, 86399))
        if t in DATE_TYPES:
            return rng.choice(ZERO_DATES) if rng.random() < 0.1 else self._date(col)
        if t in DATETIME_TYPES:
            if rng.random() < 0.1:
                return rng.choice(ZERO_DATES) + " 00:00:00"
            return datetime.combine(self._date(col), datetime.min.time()) + timedelta(seconds=rng.randint(0, 86399))
        if t in TIME_TYPES:
            return f"{rng.randint(0, 23):02d}:{rng.choice([0, 15, 30, 45]):02d}:00"
        if t in BINARY_TYPES:
            return self._blob(col, i)
        if t in ("enum", "set"):
            options = re.findall(r"'((?:[^']|'')*)'", col.column_type)
            return rng.choice(options) if options else ""
        if t == "bit":
            return rng.randint(0, 1)
        if t == "json":
            return '{"k": 1}'
        return self._text(col, i)

    def _integer(self, col: Column) -> int:
        rng = self.rng
        if col.data_type == "tinyint":
            return rng.randint(0, 1) if "(1)" in col.column_type else rng.randint(0, 9)
        if col.data_type == "year":
            return rng.randint(1990, 2030)
        if col.data_type == "smallint":
            return rng.randint(0, 360)
        if col.name.endswith("Num") or col.data_type == "bigint":
            return rng.randint(0, 5000)  # foreign keys; 0 is OpenDental's "none"
        return rng.randint(0, 1000)

    def _date(self, col: Column) -> date:
        if "birth" in col.name.lower():
            return date(1935, 1, 1) + timedelta(days=self.rng.randint(0, 32000))
        return date(2015, 1, 1) + timedelta(days=self.rng.randint(0, 4000))

    def _text(self, col: Column, i: int) -> str:
        rng = self.rng
        roll = rng.random()
        name = col.name.lower()
        if name.endswith("name") and name.startswith("l"):
            text = rng.choice(LAST_NAMES)
        elif name.endswith("name"):
            text = rng.choice(FIRST_NAMES)
        elif roll < 0.15:
            text = rng.choice(AWKWARD)
        else:
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
        if (col.charset or "").lower() == "utf8mb4" and rng.random() < 0.15:
            text += " " + rng.choice(FOUR_BYTE)
        if col.data_type in TEXT_TYPES and self.wide_every and i % self.wide_every == self.wide_every - 1:
            text = (text + " ") * (60_000 // (len(text) + 1) + 1)  # a very wide row
        limit = col.char_length or 65_535
        return text[:limit]

    def _blob(self, col: Column, i: int) -> bytes:
        size = self.rng.randint(0, 64)
        if col.data_type in ("mediumblob", "longblob", "blob") and i % 13 == 0:
            size = 70_000
        data = bytes([0, 92, 39, 34, 10, 255]) + self.rng.randbytes(size)
        return data[: col.char_length] if col.char_length else data


def insert_rows(conn: Any, schema: TableSchema, rows: Iterable[tuple], chunk: int = 500) -> int:
    """Insert generated rows with multi-row INSERTs (test and benchmark setup, not a pipeline path)."""
    columns = ", ".join(mysql_ident(c.name) for c in schema.columns)
    placeholders = ", ".join(["%s"] * len(schema.columns))
    sql = f"INSERT INTO {mysql_ident(schema.name)} ({columns}) VALUES ({placeholders})"
    cur = conn.cursor()
    cur.execute("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', SESSION time_zone = '+00:00'")
    total, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk:
            cur.executemany(sql, batch)
            total, batch = total + len(batch), []
    if batch:
        cur.executemany(sql, batch)
        total += len(batch)
    cur.close()
    return total


def fill_table(conn: Any, table: str, rows: int, seed: int = 7, first_key: int | None = None) -> int:
    """Add ``rows`` generated rows to ``table`` (keys continue after the current maximum)."""
    schema = describe(conn.cursor(), table)
    if schema is None:
        raise ValueError(f"table {table} does not exist")
    key = schema.auto_increment_key or schema.integer_key
    if first_key is None and key is not None:
        cur = conn.cursor()
        cur.execute(f"SELECT COALESCE(MAX({mysql_ident(key.name)}), 0) + 1 FROM {mysql_ident(table)}")
        first_key = int(cur.fetchone()[0])
        cur.close()
    cur = conn.cursor()
    cur.execute(read_sql("mysql/opendental/unique_columns.sql"), {"table": table})
    unique = [row[0] for row in cur.fetchall()]
    cur.close()
    generator = RowGenerator(schema, seed=seed + (first_key or 1), unique=unique)
    return insert_rows(conn, schema, generator.rows(rows, first_key or 1))


def grow_table(conn: Any, table: str, target_rows: int) -> int:
    """Double the table with INSERT ... SELECT (new keys past the maximum) until it holds ``target_rows``:
    a million realistic rows in seconds, for the benchmark."""
    schema = describe(conn.cursor(), table)
    key = schema.integer_key if schema else None
    if key is None:
        raise ValueError(f"table {table} needs a single integer primary key to grow")
    others = [mysql_ident(c.name) for c in schema.columns if c.name != key.name]
    cur = conn.cursor()
    cur.execute("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', SESSION time_zone = '+00:00'")
    # Secondary indexes are rebuilt once at the end (MyISAM), not maintained row by row.
    cur.execute(f"ALTER TABLE {mysql_ident(table)} DISABLE KEYS")
    while True:
        cur.execute(f"SELECT COUNT(*), COALESCE(MAX({mysql_ident(key.name)}), 0) FROM {mysql_ident(table)}")
        count, top = (int(v) for v in cur.fetchone())
        if count >= target_rows or count == 0:
            break
        take = min(count, target_rows - count)
        cur.execute(f"INSERT INTO {mysql_ident(table)} ({mysql_ident(key.name)}, {', '.join(others)}) "
                    f"SELECT {mysql_ident(key.name)} + {top}, {', '.join(others)} FROM {mysql_ident(table)} "
                    f"ORDER BY {mysql_ident(key.name)} LIMIT {take}")
    cur.execute(f"ALTER TABLE {mysql_ident(table)} ENABLE KEYS")
    cur.close()
    return count
