"""A table of hostile but legal MySQL values: every type OpenDental's schema uses (and the other types a
MySQL schema may hold), each at its limits and special values, for the cell-by-cell type tests.

Each column has a ``kind`` that says how its source and PostgreSQL values are compared (exact number,
IEEE float, text bytes, ...). The rows are SQL expressions, so the values are made by the server itself
(no driver conversion on the way in). ``PLANTED_CONVERSIONS`` is what the documented lossy
conversions must count for these rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pipelines.opendental.identifiers import mysql_ident

TABLE = "typeprobe"
MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class ProbeColumn:
    name: str
    ddl: str
    kind: str  # number | bit | float | date | datetime | time | text | blob


COLUMNS = (
    ProbeColumn("ProbeNum", "bigint(20) NOT NULL AUTO_INCREMENT", "number"),
    ProbeColumn("TinySigned", "tinyint(4)", "number"),
    ProbeColumn("TinyUnsigned", "tinyint(3) unsigned", "number"),
    ProbeColumn("SmallSigned", "smallint(6)", "number"),
    ProbeColumn("SmallUnsigned", "smallint(5) unsigned", "number"),
    ProbeColumn("MediumSigned", "mediumint(9)", "number"),
    ProbeColumn("MediumUnsigned", "mediumint(8) unsigned", "number"),
    ProbeColumn("IntSigned", "int(11)", "number"),
    ProbeColumn("IntUnsigned", "int(10) unsigned", "number"),
    ProbeColumn("BigSigned", "bigint(20)", "number"),
    ProbeColumn("BigUnsigned", "bigint(20) unsigned", "number"),
    ProbeColumn("Dec65", "decimal(65,30)", "number"),
    ProbeColumn("Money", "double(10,2)", "float"),
    ProbeColumn("Single", "float", "float"),
    ProbeColumn("Dbl", "double", "float"),
    ProbeColumn("Bit1", "bit(1)", "bit"),
    ProbeColumn("Bit64", "bit(64)", "bit"),
    ProbeColumn("Yr", "year(4)", "number"),
    ProbeColumn("Choice", "enum('a','b','it''s','')", "text"),
    ProbeColumn("Flags", "set('x','y','z')", "text"),
    ProbeColumn("Doc", "json", "text"),
    ProbeColumn("Day", "date NOT NULL DEFAULT '0001-01-01'", "date"),
    ProbeColumn("Moment", "datetime NOT NULL DEFAULT '0001-01-01 00:00:00'", "datetime"),
    ProbeColumn("Precise", "datetime(6)", "datetime"),
    ProbeColumn("Stamp6", "timestamp(6) NULL DEFAULT NULL", "datetime"),
    ProbeColumn("Duration", "time", "time"),
    ProbeColumn("Duration6", "time(6)", "time"),
    ProbeColumn("Name", "varchar(255)", "text"),
    ProbeColumn("Latin", "varchar(255) CHARACTER SET latin1", "text"),
    ProbeColumn("Code", "char(10)", "text"),
    ProbeColumn("Note", "text", "text"),
    ProbeColumn("Big", "mediumtext", "text"),
    ProbeColumn("Payload", "longblob", "blob"),
    ProbeColumn("Token", "varbinary(16)", "blob"),
    ProbeColumn("DateTStamp", "timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP", "datetime"),
)

_MAX_DEC65 = "9" * 35 + "." + "9" * 30
_BLOB_1MB = f"CONCAT(0x00, REPEAT(0xFF00FE0D0A5C27, {MEGABYTE // 7}), 0x00)"

# One dict per row: column -> SQL expression; missing columns are NULL (or their default).
ROWS: tuple[dict[str, str], ...] = (
    {"TinySigned": "-128", "TinyUnsigned": "0", "SmallSigned": "-32768", "SmallUnsigned": "0",
     "MediumSigned": "-8388608", "MediumUnsigned": "0", "IntSigned": "-2147483648", "IntUnsigned": "0",
     "BigSigned": "-9223372036854775808", "BigUnsigned": "0", "Dec65": "-" + _MAX_DEC65, "Money": "-99999999.99",
     "Single": "-0e0", "Dbl": "-0e0", "Bit1": "b'0'", "Bit64": "0", "Yr": "1901", "Choice": "''", "Flags": "''",
     "Day": "'0000-00-00'", "Moment": "'0000-00-00 00:00:00'", "Precise": "'1000-01-01 00:00:00.000000'",
     "Stamp6": "'1970-01-01 00:00:01.000000'", "Duration": "'-838:59:59'", "Duration6": "'-838:59:59.000000'",
     "Name": "''", "Latin": "''", "Code": "''", "Note": "''", "Token": "''"},
    {"TinySigned": "127", "TinyUnsigned": "255", "SmallSigned": "32767", "SmallUnsigned": "65535",
     "MediumSigned": "8388607", "MediumUnsigned": "16777215", "IntSigned": "2147483647", "IntUnsigned": "4294967295",
     "BigSigned": "9223372036854775807", "BigUnsigned": "18446744073709551615", "Dec65": _MAX_DEC65,
     "Money": "99999999.99", "Single": "16777216", "Dbl": "1e308", "Bit1": "b'1'", "Bit64": "18446744073709551615",
     "Yr": "2155", "Choice": "'it''s'", "Flags": "'x,y,z'", "Day": "'0001-01-01'", "Moment": "'0001-01-01 13:45:00'",
     "Precise": "'9999-12-31 23:59:59.999999'", "Stamp6": "'2038-01-19 03:14:07.999999'",
     "Duration": "'838:59:59'", "Duration6": "'838:59:59.000000'", "Code": "'\\\\N'", "Note": "'NULL'"},
    {"Single": "3.1415927", "Dbl": "123456.789", "Bit64": "9223372036854775808", "Yr": "0", "Choice": "'a'",
     "Flags": "'x,z'", "Day": "'9999-12-31'", "Moment": "'2024-02-29 23:59:59'",
     "Precise": "'2024-02-29 12:00:00.000001'", "Duration": "'24:00:00'", "Duration6": "'24:00:00.500000'",
     "Name": "'a\\r\\nb\\tc\\\\d\"e''f,g'", "Latin": "'café ñ ÿ'", "Code": "'NULL'", "Note": "'\\\\N'",
     "Doc": "'{\"a\": [1, 2.50, \"x\\\\\"y\"], \"b\": null, \"c\": \"😀\"}'"},
    {"Single": "123456.789", "Dbl": "-1e308", "Bit64": "9223372036854775807", "Duration": "'-00:00:01'",
     "Duration6": "'-00:00:01.250000'", "Name": "'😀 𝄞 naïve 日本'", "Latin": "'\\\\ \" '' \\t'",
     # Few quotes: MariaDB's REPLACE (the CSV quote doubling) slows down sharply with many matches in one value.
     "Big": f"CONCAT(REPEAT('ab\\r\\n😀\\t\\\\', {MEGABYTE // 11}), '\"end\"')", "Payload": _BLOB_1MB,
     "Token": "0x00FF00"},
    {"Single": "1e-45", "Dbl": "4.9e-324", "Duration": "'00:00:00'", "Duration6": "'-00:00:00.000001'",
     "Day": "'2000-00-15'", "Moment": "'2000-05-00 10:00:00'"},
    {"Single": "-3.40282346e38", "Dbl": "2.2250738585072014e-308", "Money": "0.1",
     "Name": "CONCAT('a', CHAR(0), 'b')", "Note": "CONCAT(CHAR(0), 'x', CHAR(0))",
     "Latin": "CONCAT(CHAR(0), 'é')", "Payload": "0x000000"},
    {"Single": "1.17549435e-38", "Dbl": "0.1", "Name": "'  padded  '", "Note": "CONCAT('line', CHAR(0))"},
    {},  # every nullable column NULL (zero-date defaults in the NOT NULL ones)
)

# The documented conversions (docs/pipelines/opendental.md, "Conversions") these rows must be counted for:
# zero dates (0000-00-00, 0001-01-01, zero month or day) become NULL, NUL characters are removed.
PLANTED_CONVERSIONS = {
    # every row but row 3: rows 1, 2 and 5 plant them, the others get the NOT NULL default 0001-01-01
    "Day": {"zero_date": 7},
    "Moment": {"zero_date": 7},
    "Name": {"nul_removed": 1},
    "Latin": {"nul_removed": 1},
    "Note": {"nul_removed": 2},
}


def create_statement() -> str:
    columns = ",\n  ".join(f"{mysql_ident(c.name)} {c.ddl}" for c in COLUMNS)
    return (f"CREATE TABLE {mysql_ident(TABLE)} (\n  {columns},\n  PRIMARY KEY (`ProbeNum`),\n"
            "  KEY `DateTStamp` (`DateTStamp`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")


def insert_statements() -> Iterable[str]:
    for number, row in enumerate(ROWS, start=1):
        values = {"ProbeNum": str(number), "DateTStamp": "'2024-01-01 00:00:00'", **row}
        names = ", ".join(mysql_ident(name) for name in values)
        yield f"INSERT INTO {mysql_ident(TABLE)} ({names}) VALUES ({', '.join(values.values())})"


def create(conn: Any) -> None:
    """Create and fill the probe table: zero dates allowed (no NO_ZERO_DATE, as OpenDental runs), strict, so
    no planted limit is silently clipped."""
    cur = conn.cursor()
    cur.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES'")
    cur.execute("SET SESSION time_zone = '+00:00'")
    cur.execute(create_statement())
    for statement in insert_statements():
        cur.execute(statement)
    cur.close()
    conn.commit()
