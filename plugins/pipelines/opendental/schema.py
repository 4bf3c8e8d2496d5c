"""What a MySQL table looks like (from information_schema), how its types map to PostgreSQL, and the
per-column SQL expressions that let the MySQL server itself encode rows for the bulk paths.

Encoding rows on the server (``QUOTE``/``HEX`` for a multi-row INSERT, CSV fields for COPY) keeps the
per-value work in C: Python only moves one pre-built byte string per row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pipelines.common.paths import read_sql
from pipelines.opendental.identifiers import mysql_ident, pg_ident

INTEGER_TYPES = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year"}
DECIMAL_TYPES = {"decimal", "numeric"}
FLOAT_TYPES = {"float", "double", "real"}
DATE_TYPES = {"date"}
DATETIME_TYPES = {"datetime"}
TIMESTAMP_TYPES = {"timestamp"}
TIME_TYPES = {"time"}
BINARY_TYPES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry", "point",
                "linestring", "polygon"}
TEXT_TYPES = {"tinytext", "text", "mediumtext", "longtext", "json"}
CHAR_TYPES = {"char", "varchar"}
TEMPORAL_TYPES = DATE_TYPES | DATETIME_TYPES | TIMESTAMP_TYPES


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    column_type: str
    nullable: bool = True
    auto_increment: bool = False
    precision: int | None = None
    scale: int | None = None
    char_length: int | None = None
    charset: str | None = None

    @property
    def unsigned(self) -> bool:
        return "unsigned" in self.column_type

    @property
    def is_temporal(self) -> bool:
        return self.data_type in TEMPORAL_TYPES


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    estimated_rows: int = 0
    data_length: int = 0

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)

    @property
    def auto_increment_key(self) -> Column | None:
        """The single-column auto-increment primary key, if the table has one."""
        if len(self.primary_key) != 1:
            return None
        col = self.column(self.primary_key[0])
        return col if col is not None and col.auto_increment and col.data_type in INTEGER_TYPES else None

    @property
    def integer_key(self) -> Column | None:
        """The single integer primary key column (keyset pagination runs on it)."""
        if len(self.primary_key) != 1:
            return None
        col = self.column(self.primary_key[0])
        return col if col is not None and col.data_type in INTEGER_TYPES else None

    def signature(self) -> str:
        """A fingerprint of the column names and types, in order: changes when the DDL drifts."""
        text = "|".join(f"{c.name}:{c.column_type}" for c in self.columns) + "|pk:" + ",".join(self.primary_key)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class _TableFacts:
    rows: int = 0
    size: int = 0
    columns: list[Column] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)


def _column(row: tuple) -> Column:
    _, name, data_type, column_type, is_nullable, extra, precision, scale, char_length, charset = row
    return Column(
        name=name, data_type=str(data_type).lower(), column_type=str(column_type).lower(),
        nullable=is_nullable == "YES", auto_increment="auto_increment" in str(extra).lower(),
        precision=None if precision is None else int(precision), scale=None if scale is None else int(scale),
        char_length=None if char_length is None else int(char_length), charset=charset,
    )


def discover(cursor: Any, table: str | None = None) -> dict[str, TableSchema]:
    """Every base table of the cursor's database (or just ``table``), from information_schema."""
    facts: dict[str, _TableFacts] = {}
    cursor.execute(read_sql("mysql/opendental/discover_tables.sql"))
    for name, rows, size, _auto in cursor.fetchall():
        if table is None or name == table:
            facts[name] = _TableFacts(int(rows or 0), int(size or 0))
    cursor.execute(read_sql("mysql/opendental/discover_columns.sql"), {"table": table})
    for row in cursor.fetchall():
        if row[0] in facts:
            facts[row[0]].columns.append(_column(row))
    cursor.execute(read_sql("mysql/opendental/discover_primary_keys.sql"), {"table": table})
    for name, column in cursor.fetchall():
        if name in facts:
            facts[name].primary_key.append(column)
    return {
        name: TableSchema(name, tuple(f.columns), tuple(f.primary_key), f.rows, f.size)
        for name, f in facts.items()
    }


def describe(cursor: Any, table: str) -> TableSchema | None:
    """One table's schema, or None when the table does not exist."""
    return discover(cursor, table).get(table)


# --- MySQL -> PostgreSQL ------------------------------------------------------------------------------


def pg_type(col: Column) -> str:
    """The faithful PostgreSQL type: integers by width (unsigned one size up), tinyint stays an integer."""
    t = col.data_type
    if t == "tinyint" or t == "year":
        return "smallint"
    if t == "smallint":
        return "integer" if col.unsigned else "smallint"
    if t in ("mediumint", "int", "integer"):
        return "bigint" if col.unsigned else "integer"
    if t == "bigint":
        return "numeric(20,0)" if col.unsigned else "bigint"
    if t == "bit":
        # BIT(64) holds 0..2^64-1: bigint overflows at 2^63, numeric(20,0) holds every value exactly.
        return "numeric(20,0)"
    if t in DECIMAL_TYPES:
        return f"numeric({col.precision or 10},{col.scale or 0})"
    if t == "float":
        return "real"
    if t in ("double", "real"):
        return "double precision"
    if t in DATE_TYPES:
        return "date"
    if t in DATETIME_TYPES:
        return "timestamp without time zone"
    if t in TIMESTAMP_TYPES:
        return "timestamp with time zone"
    if t in TIME_TYPES:
        # MySQL TIME is a signed duration (-838:59:59..838:59:59); PostgreSQL time holds one day only.
        return "interval"
    if t in CHAR_TYPES and col.char_length:
        return f"character varying({col.char_length})"
    if t in BINARY_TYPES:
        return "bytea"
    return "text"


def pg_columns_ddl(schema: TableSchema, *, with_primary_key: bool = True) -> str:
    """Column list for CREATE TABLE in ``raw``: original names, every non-key column nullable (zero dates
    become NULL even where MySQL says NOT NULL)."""
    lines = [
        f"{pg_ident(c.name)} {pg_type(c)}" + (" NOT NULL" if c.name in schema.primary_key else "")
        for c in schema.columns
    ]
    if with_primary_key and schema.primary_key:
        lines.append("PRIMARY KEY (" + ", ".join(pg_ident(k) for k in schema.primary_key) + ")")
    return ",\n  ".join(lines)


def expected_pg_columns(schema: TableSchema) -> list[tuple[str, str]]:
    """(name, type) pairs as ``format_type`` prints them, to detect a raw table that has drifted."""
    return [(c.name, pg_type(c)) for c in schema.columns]


# --- Row encoders run by the MySQL server --------------------------------------------------------------


def _zero_date_guard(col: Column) -> str:
    """True for OpenDental's "no date": 0000-00-00, 0001-01-01 (any time on that day) or a zero month/day."""
    ident = mysql_ident(col.name)
    if col.data_type in DATE_TYPES:
        return f"{ident} < '0001-01-02' OR MONTH({ident}) = 0 OR DAYOFMONTH({ident}) = 0"
    return f"{ident} < '0001-01-02 00:00:00' OR MONTH({ident}) = 0 OR DAYOFMONTH({ident}) = 0"


def exact_float_expr(col: Column) -> str:
    """The FLOAT/DOUBLE value as text that reads back to the same bits.

    MariaDB prints a DOUBLE in its shortest round-trip form but a FLOAT with 6 significant digits
    (16777216 -> 16777200); widened to DOUBLE first, a FLOAT prints every digit of its exact value, which
    MariaDB's FLOAT and PostgreSQL's real both round back to the original. (MariaDB stores -0.0 as 0, so
    there is no sign of zero to carry.)"""
    ident = mysql_ident(col.name)
    return f"CAST({ident} AS DOUBLE)" if col.data_type == "float" else ident


def insert_value_expr(col: Column) -> str:
    """SQL literal of the column's value, for a multi-row INSERT into the replica (exact copy)."""
    ident = mysql_ident(col.name)
    if col.data_type in BINARY_TYPES:
        return f"IF({ident} IS NULL, 'NULL', CONCAT('X''', HEX({ident}), ''''))"
    if col.data_type in FLOAT_TYPES:
        return f"IFNULL({exact_float_expr(col)}, 'NULL')"
    if col.data_type in INTEGER_TYPES | DECIMAL_TYPES:
        return f"IFNULL({ident}, 'NULL')"
    if col.data_type == "bit":
        return f"IFNULL({ident} + 0, 'NULL')"
    return f"QUOTE({ident})"


def insert_row_expr(schema: TableSchema) -> str:
    """One ``(v1,v2,...)`` tuple per row, built by the server, as bytes."""
    parts = ", ".join(insert_value_expr(c) for c in schema.columns)
    return f"CAST(CONCAT('(', CONCAT_WS(',', {parts}), ')') AS BINARY)"


def csv_value_expr(col: Column) -> str:
    """PostgreSQL COPY CSV field of the column: unquoted empty is NULL, text always quoted, zero dates
    NULL, bytea as ``\\x`` hex, timestamps marked UTC (the session reads them in UTC)."""
    ident = mysql_ident(col.name)
    t = col.data_type
    if t in BINARY_TYPES:
        return f"IF({ident} IS NULL, '', CONCAT('\\\\x', HEX({ident})))"
    if t in FLOAT_TYPES:
        return f"IFNULL({exact_float_expr(col)}, '')"
    if t in INTEGER_TYPES | DECIMAL_TYPES:
        return f"IFNULL({ident}, '')"
    if t == "bit":
        return f"IFNULL({ident} + 0, '')"
    if col.is_temporal:
        value = f"CONCAT({ident}, '+00')" if t in TIMESTAMP_TYPES else ident
        return f"IF({ident} IS NULL OR {_zero_date_guard(col)}, '', {value})"
    if t in TIME_TYPES:
        # '[-]hhh:mm:ss[.ffffff]' is also PostgreSQL interval input, sign applying to the whole value.
        return f"IFNULL({ident}, '')"
    # NUL cannot be stored in PostgreSQL text: removed, and counted (see conversion_flags_expr).
    return f"IF({ident} IS NULL, '', CONCAT('\"', REPLACE(REPLACE({ident}, CHAR(0), ''), '\"', '\"\"'), '\"'))"


def csv_row_expr(schema: TableSchema) -> str:
    parts = ", ".join(csv_value_expr(c) for c in schema.columns)
    return f"CAST(CONCAT_WS(',', {parts}) AS BINARY)"


# --- Lossy conversions on the way to raw, counted per column ---------------------------------------------

NUL_REMOVED = "nul_removed"
ZERO_DATE = "zero_date"
_FLAG_KINDS = {"n": NUL_REMOVED, "z": ZERO_DATE}


def is_text_encoded(col: Column) -> bool:
    """Columns that travel to raw as quoted text (the CSV encoder's last branch)."""
    t = col.data_type
    return not (t in BINARY_TYPES | INTEGER_TYPES | DECIMAL_TYPES | FLOAT_TYPES | TIME_TYPES or t == "bit"
                or col.is_temporal)


def _conversion_flag(index: int, col: Column) -> str | None:
    """``'<index><kind>'`` when this cell of the row is changed on its way to raw, else NULL."""
    ident = mysql_ident(col.name)
    if col.is_temporal:
        return f"IF({ident} IS NOT NULL AND ({_zero_date_guard(col)}), '{index}z', NULL)"
    if is_text_encoded(col):
        return f"IF(LOCATE(CHAR(0), {ident}) > 0, '{index}n', NULL)"
    return None


def conversion_flags_expr(schema: TableSchema) -> str:
    """Per row, which cells the CSV encoder changes (``'3z,7n'``), or NULL for an exact row: computed in
    the same streaming SELECT as the CSV line, so counting costs no extra scan."""
    flags = [f for i, c in enumerate(schema.columns) if (f := _conversion_flag(i, c))]
    return f"NULLIF(CONCAT_WS(',', {', '.join(flags)}), '')" if flags else "NULL"


def conversion_counts(schema: TableSchema, flag_counts: dict[str, int]) -> dict[str, dict[str, int]]:
    """``{column: {kind: cells}}`` from the tallied per-row flags (``{'3z': 2, '7n': 1}``)."""
    counts: dict[str, dict[str, int]] = {}
    for flag, cells in sorted(flag_counts.items()):
        column = schema.columns[int(flag[:-1])].name
        counts.setdefault(column, {})[_FLAG_KINDS[flag[-1]]] = cells
    return counts

