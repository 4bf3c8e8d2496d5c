"""Every MySQL type at its limits, copied source -> replica -> raw -> public and compared cell by cell:
the replica byte-equal to the source (compared on the server), raw equal to the replica under the
documented conversions only (zero dates -> NULL, NUL removed from text; docs/pipelines/opendental.md), public
equal to raw under the generic transform (strings trimmed), and every conversion counted as planted."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from devtools.opendental import hostile
from pipelines.common.paths import read_sql
from pipelines.opendental.config import load_settings
from pipelines.opendental.extract import extract_table
from pipelines.opendental.identifiers import mysql_ident, pg_ident, snake_case
from pipelines.opendental.load import load_table
from pipelines.opendental.summary import table_row
from pipelines.opendental.tablerun import TableRun
from pipelines.opendental.tasks import plan_tables
from pipelines.opendental.transform import transform_table
from pipelines.opendental.validation import validate_table
from tests.integration.opendental.odsupport import Stack

pytestmark = pytest.mark.integration
TABLE = hostile.TABLE
KEY = "ProbeNum"


def run_pipeline(run_id: str) -> TableRun:
    settings = load_settings()
    [plan] = plan_tables({"tables": [TABLE], "force": False, "dry_run": False, "parallel": 1}, settings)
    return validate_table(transform_table(load_table(extract_table(plan, settings), settings), settings), run_id)


@pytest.fixture
def copied(stack) -> tuple[Stack, TableRun]:
    conn = stack.source.connect()
    try:
        hostile.create(conn)
    finally:
        conn.close()
    return stack, run_pipeline("exact-types-1")


# --- source -> replica: byte-equal, compared by the server -----------------------------------------------


def exact_mysql(column: hostile.ProbeColumn, alias: str) -> str:
    """A form of the stored value that differs whenever the stored bytes (or number) differ."""
    ident = f"{alias}.{mysql_ident(column.name)}"
    if column.kind in ("text", "blob"):
        return f"HEX({ident})"
    if column.kind == "float":
        return f"CONCAT(CAST({ident} AS DOUBLE))"  # shortest round-trip text of the exact value
    if column.kind == "bit":
        return f"CAST({ident} + 0 AS CHAR)"
    return f"CAST({ident} AS CHAR)"


def replica_differences(stack: Stack) -> list[str]:
    source, replica = mysql_ident(stack.source.name), mysql_ident(stack.replica.name)
    found = []
    for column in hostile.COLUMNS:
        rows = stack.mysql_rows(stack.replica, f"SELECT s.{KEY} FROM {source}.{TABLE} s LEFT JOIN {replica}.{TABLE} r "
                                f"USING ({KEY}) WHERE NOT ({exact_mysql(column, 's')} <=> {exact_mysql(column, 'r')})")
        found += [f"{column.name} row {row[0]}" for row in rows]
    return found


def test_replica_is_byte_equal_to_the_source(copied):
    stack, _ = copied
    assert stack.count("source", TABLE) == stack.count("replica", TABLE) == len(hostile.ROWS)
    assert replica_differences(stack) == []
    # The limits really are in the source (a strict sql_mode refused anything out of range).
    singles = [r[0] for r in stack.mysql_rows(stack.source, f"SELECT CAST(Single AS DOUBLE) FROM {TABLE} "
                                              f"ORDER BY {KEY}")]
    assert singles[1:4] == [16777216.0, 3.1415927410125732, 123456.7890625]
    assert stack.mysql_rows(stack.source, f"SELECT Bit64 + 0 FROM {TABLE} WHERE {KEY} = 2") == [(2**64 - 1,)]


# --- replica -> raw: equal under the documented conversions ----------------------------------------------


def replica_form(column: hostile.ProbeColumn) -> str:
    ident = mysql_ident(column.name)
    return {"number": f"CAST({ident} AS CHAR)", "bit": f"CAST({ident} + 0 AS CHAR)",
            "float": f"CAST({ident} AS DOUBLE)", "date": f"CAST({ident} AS CHAR)",
            "datetime": f"CAST({ident} AS CHAR)", "time": ident,
            "text": f"HEX(CONVERT({ident} USING utf8mb4))", "blob": f"HEX({ident})"}[column.kind]


def raw_form(column: hostile.ProbeColumn) -> str:
    ident = pg_ident(column.name)
    return {"number": f"{ident}::text", "bit": f"{ident}::text", "float": f"{ident}::float8",
            "date": f"to_char({ident}, 'YYYY-MM-DD')", "datetime": f"to_char({ident}, 'YYYY-MM-DD HH24:MI:SS.US')",
            "time": ident, "text": f"upper(encode(convert_to({ident}, 'UTF8'), 'hex'))",
            "blob": f"upper(encode({ident}, 'hex'))"}[column.kind]


def is_zero_date(text: str) -> bool:
    """The documented rule: 0000-00-00, anything on 0001-01-01 and zero months or days mean "no date"."""
    return text[:10] < "0001-01-02" or text[5:7] == "00" or text[8:10] == "00"


def comparable(column: hostile.ProbeColumn, value: Any) -> Any:
    """A fetched ``replica_form``/``raw_form`` value as a Python value compared with ``==``."""
    if value is None:
        return None
    if column.kind in ("number", "bit"):
        return Decimal(value)
    if column.kind == "float":
        return repr(value)  # repr round-trips a double exactly, and keeps the sign of zero
    if column.kind in ("text", "blob"):
        return bytes.fromhex(value)
    return value


def documented(column: hostile.ProbeColumn, value: Any) -> Any:
    """The replica's value as raw must hold it: the documented conversions, and nothing else."""
    value = comparable(column, value)
    if value is None:
        return None
    if column.kind == "text":
        return value.replace(b"\x00", b"")
    if column.kind in ("date", "datetime"):
        return None if is_zero_date(value) else (value + ".000000" if len(value) == 19 else value)
    return value


def raw_rows(stack: Stack) -> list[tuple]:
    with stack.analytics.connect() as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        forms = ", ".join(raw_form(c) for c in hostile.COLUMNS)
        return list(conn.execute(f"SELECT {forms} FROM raw.{pg_ident(TABLE)} ORDER BY {pg_ident(KEY)}").fetchall())


def raw_differences(stack: Stack) -> list[str]:
    forms = ", ".join(replica_form(c) for c in hostile.COLUMNS)
    replica = stack.mysql_rows(stack.replica, f"SELECT {forms} FROM {TABLE} ORDER BY {KEY}")
    raw = raw_rows(stack)
    found = [] if len(replica) == len(raw) else [f"{len(replica)} replica rows, {len(raw)} raw rows"]
    for number, (mine, theirs) in enumerate(zip(replica, raw, strict=False), start=1):
        for column, a, b in zip(hostile.COLUMNS, mine, theirs, strict=True):
            expected, actual = documented(column, a), comparable(column, b)
            if expected != actual:
                found.append(f"{column.name} row {number}: {expected!r:.80} != {actual!r:.80}")
    return found


def test_raw_equals_the_replica_under_the_documented_conversions_only(copied):
    stack, _ = copied
    assert raw_differences(stack) == []
    types = dict(stack.pg_rows("SELECT column_name, format_type(atttypid, atttypmod) FROM information_schema.columns "
                               "JOIN pg_attribute ON attrelid = 'raw.typeprobe'::regclass AND attname = column_name "
                               "WHERE table_schema = 'raw' AND table_name = 'typeprobe'"))
    assert (types["Duration"], types["Bit64"], types["Single"], types["Dbl"]) == (
        "interval", "numeric(20,0)", "real", "double precision")


# --- raw -> public: the generic transform only trims strings ---------------------------------------------


def public_differences(stack: Stack) -> list[str]:
    found = []
    for column in hostile.COLUMNS:
        raw_value = f"r.{pg_ident(column.name)}"
        if column.kind == "text":
            raw_value = f"btrim({raw_value})"
        rows = stack.pg_rows(f"SELECT r.{pg_ident(KEY)} FROM raw.{pg_ident(TABLE)} r FULL JOIN public.{TABLE} p "
                             f"ON p.{snake_case(KEY)} = r.{pg_ident(KEY)} "
                             f"WHERE {raw_value} IS DISTINCT FROM p.{pg_ident(snake_case(column.name))}")
        found += [f"{column.name} row {row[0]}" for row in rows]
    return found


def test_public_follows_raw_with_interval_and_exact_numbers(copied):
    stack, _ = copied
    assert public_differences(stack) == []
    types = dict(stack.pg_rows("SELECT column_name, data_type FROM information_schema.columns "
                               "WHERE table_schema = 'public' AND table_name = 'typeprobe'"))
    assert (types["duration"], types["duration6"], types["bit64"]) == ("interval", "interval", "numeric")


# --- conversions counted per table, column and run ---------------------------------------------------------


def test_conversions_are_counted_in_load_validation_and_summary(copied):
    stack, run = copied
    assert run.stage("load").conversions == hostile.PLANTED_CONVERSIONS
    [(recorded,)] = stack.mysql_rows(stack.replica, "SELECT conversions FROM etl_run_validation WHERE run_id = %s "
                                     "AND table_name = %s", ["exact-types-1", TABLE])
    assert json.loads(recorded) == hostile.PLANTED_CONVERSIONS
    assert table_row(run)["conversions"] == hostile.PLANTED_CONVERSIONS


def change_at_source(stack: Stack, sql: str) -> None:
    conn = stack.source.connect()
    try:
        conn.cursor().execute(sql)
        conn.commit()
    finally:
        conn.close()


def test_an_incremental_load_counts_only_the_rows_it_copied(copied):
    stack, _ = copied
    # Row 3 moves past every other row's watermark (and its overlap), then changes again with a NUL.
    change_at_source(stack, f"UPDATE {TABLE} SET DateTStamp = '2030-01-01' WHERE {KEY} = 3")
    run_pipeline("exact-types-2")
    change_at_source(stack, f"UPDATE {TABLE} SET Note = CONCAT('again', CHAR(0)), DateTStamp = '2030-01-01 00:00:01' "
                     f"WHERE {KEY} = 3")
    run = run_pipeline("exact-types-3")
    assert run.stage("load").rows == 1
    assert run.stage("load").mode == "incremental"
    assert run.stage("load").conversions == {"Note": {"nul_removed": 1}}
    assert raw_differences(stack) == []


# --- raw tables made with the old type map drift and are rebuilt -------------------------------------------


def test_a_raw_table_with_the_old_types_is_rebuilt_and_public_follows(copied):
    stack, _ = copied
    with stack.analytics.connect() as conn:  # what the earlier type map made: BIT as bigint, TIME as time
        conn.execute('ALTER TABLE raw.typeprobe ALTER COLUMN "Bit1" TYPE bigint, '
                     'ALTER COLUMN "Duration" TYPE time USING NULL, ALTER COLUMN "Duration6" TYPE time USING NULL')
        conn.execute("ALTER TABLE public.typeprobe ALTER COLUMN duration TYPE time USING NULL")
    run = run_pipeline("exact-types-4")
    assert (run.stage("load").mode, run.stage("transform").mode) == ("full", "full")
    assert raw_differences(stack) == []
    assert public_differences(stack) == []


def test_an_older_validation_table_gets_the_conversions_column_at_the_end(stack):
    # etl_run_validation as it was before conversions were recorded (this file's DDL without that column).
    older = "\n".join(line for line in read_sql("mysql/opendental/validation_table.sql").splitlines()
                      if "conversions" not in line)
    conn = stack.replica.connect()
    try:
        conn.cursor().execute(older)
    finally:
        conn.close()
    conn = stack.source.connect()
    try:
        hostile.create(conn)
    finally:
        conn.close()
    run_pipeline("exact-types-5")
    columns = [r[0] for r in stack.mysql_rows(stack.replica, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
                                              "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'etl_run_validation' "
                                              "ORDER BY ORDINAL_POSITION")]
    assert columns[-1] == "conversions"  # appended after every column the older table had
    [(recorded,)] = stack.mysql_rows(stack.replica, "SELECT conversions FROM etl_run_validation WHERE run_id = %s",
                                     ["exact-types-5"])
    assert json.loads(recorded) == hostile.PLANTED_CONVERSIONS
