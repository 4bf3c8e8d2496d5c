"""The generator fills any table from its DDL with the awkward values OpenDental really holds."""

from __future__ import annotations

from devtools.opendental.generator import FOUR_BYTE, RowGenerator, read_ddl_statements
from pipelines.opendental.schema import Column, TableSchema

DDL = """-- opendental.x definition

CREATE TABLE `x` (
  `XNum` bigint(20) NOT NULL AUTO_INCREMENT,
  `Note` text DEFAULT 'a;b',
  PRIMARY KEY (`XNum`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8"""


def schema(charset):
    return TableSchema("x", (
        Column("XNum", "bigint", "bigint(20)", nullable=False, auto_increment=True),
        Column("ProcDate", "date", "date", nullable=False),
        Column("Note", "text", "text", charset=charset),
        Column("Name", "varchar", "varchar(5)", char_length=5, charset=charset),
        Column("Pic", "blob", "blob"),
        Column("Stamp", "timestamp", "timestamp", nullable=False),
    ), ("XNum",))


def test_ddl_files_split_into_statements_without_comments_and_a_missing_semicolon():
    statements = read_ddl_statements(DDL + "\n\nCREATE TABLE `y` (a int);\n")
    assert len(statements) == 2
    assert statements[0].startswith("CREATE TABLE `x`")
    assert "'a;b'" in statements[0]


def test_rows_hold_zero_dates_nulls_blobs_wide_text_and_4_byte_utf8():
    rows = list(RowGenerator(schema("utf8mb4"), seed=1).rows(400, first_key=10))
    assert [r[0] for r in rows[:3]] == [10, 11, 12]
    assert {"0000-00-00", "0001-01-01"} <= {r[1] for r in rows}
    assert any(r[2] is None for r in rows)
    assert any(isinstance(r[2], str) and len(r[2]) > 50_000 for r in rows)
    assert any(isinstance(r[2], str) and any(ch in r[2] for ch in FOUR_BYTE) for r in rows)
    assert all(r[3] is None or len(r[3]) <= 5 for r in rows)
    assert any(isinstance(r[4], bytes) and b"\x00" in r[4] for r in rows)
    assert all(r[5] is not None for r in rows)


def test_no_4_byte_utf8_in_utf8mb3_columns_and_deterministic():
    rows = list(RowGenerator(schema("utf8mb3"), seed=1).rows(400))
    assert not any(isinstance(r[2], str) and any(ch in r[2] for ch in FOUR_BYTE) for r in rows)
    assert rows == list(RowGenerator(schema("utf8mb3"), seed=1).rows(400))
