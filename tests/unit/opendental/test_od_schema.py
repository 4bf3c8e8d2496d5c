"""MySQL -> PostgreSQL types, DDL drift fingerprints and the server-side row encoders."""

from __future__ import annotations

import pytest

from pipelines.opendental.schema import (
    Column,
    TableSchema,
    conversion_counts,
    conversion_flags_expr,
    csv_value_expr,
    insert_value_expr,
    pg_type,
)


@pytest.mark.parametrize(("data_type", "column_type", "expected"), [
    ("tinyint", "tinyint(4)", "smallint"),
    ("tinyint", "tinyint(1)", "smallint"),
    ("tinyint", "tinyint(3) unsigned", "smallint"),
    ("smallint", "smallint(6)", "smallint"),
    ("smallint", "smallint(5) unsigned", "integer"),
    ("int", "int(11)", "integer"),
    ("int", "int(10) unsigned", "bigint"),
    ("bigint", "bigint(20)", "bigint"),
    ("bigint", "bigint(20) unsigned", "numeric(20,0)"),
    ("double", "double", "double precision"),
    ("float", "float", "real"),
    ("date", "date", "date"),
    ("datetime", "datetime", "timestamp without time zone"),
    ("timestamp", "timestamp", "timestamp with time zone"),
    ("time", "time", "interval"),
    ("bit", "bit(64)", "numeric(20,0)"),
    ("text", "text", "text"),
    ("mediumtext", "mediumtext", "text"),
    ("longblob", "longblob", "bytea"),
    ("varbinary", "varbinary(64)", "bytea"),
    ("enum", "enum('a','b')", "text"),
])
def test_type_mapping(data_type, column_type, expected):
    assert pg_type(Column("c", data_type, column_type)) == expected


def test_decimal_and_varchar_keep_their_size():
    assert pg_type(Column("c", "decimal", "decimal(10,2)", precision=10, scale=2)) == "numeric(10,2)"
    assert pg_type(Column("c", "varchar", "varchar(255)", char_length=255)) == "character varying(255)"


def test_signature_changes_with_a_column_type_or_a_new_column():
    base = TableSchema("t", (Column("A", "int", "int(11)"),), ("A",))
    assert base.signature() == TableSchema("t", (Column("A", "int", "int(11)"),), ("A",)).signature()
    assert base.signature() != TableSchema("t", (Column("A", "bigint", "bigint(20)"),), ("A",)).signature()
    assert base.signature() != TableSchema(
        "t", (Column("A", "int", "int(11)"), Column("B", "int", "int(11)")), ("A",)).signature()


def test_encoders_quote_identifiers_and_null_zero_dates():
    date_expr = csv_value_expr(Column("Proc`Date", "date", "date"))
    assert "`Proc``Date`" in date_expr
    assert "'0001-01-02'" in date_expr
    assert "HEX(" in insert_value_expr(Column("Blob", "blob", "blob"))
    assert insert_value_expr(Column("Name", "varchar", "varchar(10)")) == "QUOTE(`Name`)"


def test_float_travels_widened_to_double_so_no_digit_is_lost():
    assert "CAST(`F` AS DOUBLE)" in insert_value_expr(Column("F", "float", "float"))
    assert "CAST(`F` AS DOUBLE)" in csv_value_expr(Column("F", "float", "float"))


def test_conversion_flags_only_for_dates_and_text_and_counted_by_column_name():
    schema = TableSchema("t", (Column("Id", "bigint", "bigint(20)"), Column("Day", "date", "date"),
                               Column("Note", "text", "text"), Column("Blob", "blob", "blob")), ("Id",))
    flags = conversion_flags_expr(schema)
    assert [t for t in ("'0n'", "'0z'", "'1z'", "'2n'", "'3n'", "'3z'") if t in flags] == ["'1z'", "'2n'"]
    assert conversion_flags_expr(TableSchema("t", (Column("Id", "bigint", "bigint(20)"),))) == "NULL"
    assert conversion_counts(schema, {"1z": 3, "2n": 1}) == {"Day": {"zero_date": 3}, "Note": {"nul_removed": 1}}
