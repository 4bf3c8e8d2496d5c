"""Content verification's ranges, buckets, key conditions, checksum expressions and coverage settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipelines.opendental.config import Settings
from pipelines.opendental.schema import Column, TableSchema
from pipelines.opendental.verify import (
    HASH_SPAN,
    KeyFilter,
    key_condition,
    range_expr,
    row_checksum_expr,
    split,
    tonights_slice,
)

COMPOSITE = TableSchema("patplan", (Column("Code", "varchar", "varchar(8)"), Column("PatNum", "bigint", "bigint(20)"),
                                    Column("Ratio", "float", "float"), Column("Photo", "longblob", "longblob"),
                                    Column("Flags", "bit", "bit(64)")), primary_key=("Code", "PatNum"))
TEXT_KEY = TableSchema("pair", (Column("Code", "varchar", "varchar(8)"), Column("Kind", "char", "char(2)")),
                       primary_key=("Code", "Kind"))


@pytest.mark.parametrize("every", [1, 2, 3, 7, 30])
def test_rolling_slices_cover_every_key_exactly_once_over_n_nights(every):
    low, high = 17, 1_000_016
    slices = [s for night in range(every) if (s := tonights_slice(low, high, every, night))]
    covered = sum(b - a + 1 for a, b in slices)
    assert covered == high - low + 1
    assert all(slices[i][1] + 1 == slices[i + 1][0] for i in range(len(slices) - 1))
    assert slices[0][0] == low
    assert slices[-1][1] == high


def test_rolling_slice_of_a_span_narrower_than_the_nights_may_be_empty():
    assert [tonights_slice(1, 2, 5, night) for night in range(5)] == [(1, 1), (2, 2), None, None, None]
    assert tonights_slice(5, 9, 5, 12) == tonights_slice(5, 9, 5, 2)  # the night number wraps around


def test_split_bounds_every_statement_to_the_chunk_width():
    assert split((1, 10), 4) == [(1, 4), (5, 8), (9, 10)]
    assert split((3, 3), 100) == [(3, 3)]


def test_buckets_run_on_the_first_integer_key_column_else_on_a_hash_of_the_key():
    assert range_expr(COMPOSITE) == ("`PatNum`", False)
    expr, hashed = range_expr(TEXT_KEY)
    assert hashed
    assert expr == "CRC32(CONCAT_WS('#', `Code`, `Kind`))"
    assert HASH_SPAN == (0, 2**32 - 1)


def test_row_checksum_sees_every_bit_of_floats_binary_and_nulls():
    expr = row_checksum_expr(COMPOSITE)
    assert "(`Ratio` + 0e0)" in expr  # FLOAT widened: MariaDB prints a FLOAT with 6 digits only
    assert "HEX(`Photo`)" in expr
    assert "(`Flags` + 0)" in expr
    assert "CONCAT(ISNULL(`Code`), ISNULL(`PatNum`), ISNULL(`Ratio`), ISNULL(`Photo`), ISNULL(`Flags`))" in expr


def test_key_conditions_for_mysql_and_postgresql():
    keys = [("a", "1"), ("b", "2")]
    assert key_condition(("Code", "PatNum"), keys, lambda c: f"`{c}`") == (
        "(`Code`, `PatNum`) IN ((%s, %s), (%s, %s))", ["a", "1", "b", "2"])
    sql, params = KeyFilter(("code", "pat_num"), tuple(keys)).condition(lambda c: f'"{c}"', "s.")
    assert sql == '(s."code", s."pat_num") IN ((%s, %s), (%s, %s))'
    assert params == ["a", "1", "b", "2"]


def test_coverage_is_a_validated_setting_with_a_per_table_override():
    settings = Settings(verify={"every_nights": 7}, tables={"Procedurelog": {"verify_every_nights": 1},
                                                            "securitylog": {"verify_every_nights": 0}})
    assert settings.verify_every_nights("procedurelog") == 1
    assert settings.verify_every_nights("securitylog") == 0
    assert settings.verify_every_nights("patient") == 7
    assert Settings().verify_every_nights("patient") == 1  # every row every night unless configured
    with pytest.raises(ValidationError):
        Settings(verify={"every_nights": -1})
    with pytest.raises(ValidationError):
        Settings(verify={"chunk_keys": 0})


def test_look_back_needs_a_column_and_a_positive_number_of_days():
    settings = Settings(tables={"procedurelog": {"lookback": {"column": "ProcDate", "days": 30}}})
    assert settings.override("procedurelog").lookback.days == 30
    with pytest.raises(ValidationError):
        Settings(tables={"procedurelog": {"lookback": {"column": "ProcDate", "days": 0}}})
    with pytest.raises(ValidationError, match="unknown keys"):
        Settings(tables={"procedurelog": {"look_back": {"column": "ProcDate", "days": 3}}})
