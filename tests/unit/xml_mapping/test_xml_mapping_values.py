"""Conversion of attribute text by data_type: numbers with signs and separators, rounding, date formats,
impossible dates, ranges, bits, strings."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from pipelines.xml_mapping.values import converter, digits_only, parse_datetime, to_decimal


@pytest.mark.parametrize(("text", "expected"), [
    ("1,234", Decimal("1234")), ("-5", Decimal("-5")), ("+7.25", Decimal("7.25")), ("$1,500.75", Decimal("1500.75")),
    ("-$3", Decimal("-3")), (" 42 ", Decimal("42")), (".5", Decimal("0.5")),
    ("12,34", None), ("1.2.3", None), ("abc", None), ("", None), ("-", None), ("1e400", None), ("NaN", None),
])
def test_numbers_with_signs_and_separators(text, expected):
    assert to_decimal(text) == expected


@pytest.mark.parametrize(("data_type", "text", "expected"), [
    ("int", "12.5", 13), ("int", "-12.5", -13), ("int", "1,234", 1234), ("int", "2147483648", None),
    ("smallint", "40000", None), ("tinyint", "-1", None), ("tinyint", "255", 255), ("bigint", "9" * 20, None),
    ("int", "12 months", None),
])
def test_integers_round_half_up_within_their_range(data_type, text, expected):
    assert converter(data_type, None)(text) == expected


def test_decimals_round_to_their_scale():
    assert converter("decimal", 2)("10.005") == Decimal("10.01")
    assert converter("decimal", 5)("0.123456") == Decimal("0.12346")
    assert converter("decimal", None)("100") == Decimal("100")
    assert converter("decimal", 2)("9" * 40) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("2015-11-5 9:2:34.767", datetime(2015, 11, 5, 9, 2, 34, 767000)),
    ("2023-9-5 9:37:53.198", datetime(2023, 9, 5, 9, 37, 53, 198000)),
    ("2025-04-10 18:15:59", datetime(2025, 4, 10, 18, 15, 59)),
    ("2025-04-10", datetime(2025, 4, 10)),
    ("11/05/2015", datetime(2015, 11, 5)),
    ("5/1/2019 13:04:05", datetime(2019, 5, 1, 13, 4, 5)),
    ("5/1/2019 01:04:05 PM", datetime(2019, 5, 1, 13, 4, 5)),
    ("12/31/2019 12:00:00 AM", datetime(2019, 12, 31, 0, 0, 0)),
    ("2025-05-07T21:35:29+02:00", datetime(2025, 5, 7, 21, 35, 29)),
    ("2025-02-30", None), ("13/45/1999", None), ("vjpGY6wDzP5/9KV6vH/btw==", None), ("", None),
    ("5/1/2019 13:04:05 PM", None),
])
def test_datetime_formats_and_impossible_dates(text, expected):
    assert parse_datetime(text) == expected


def test_dates_before_sql_server_datetime_are_null_and_date_columns_hold_dates():
    assert converter("datetime", None)("1600-01-01") is None
    assert converter("date", None)("1970-11-20 10:00:00") == date(1970, 11, 20)


@pytest.mark.parametrize(("text", "expected"), [("Y", 1), ("yes", 1), ("1", 1), ("t", 1), ("N", 0), ("false", 0),
                                                ("maybe", None)])
def test_bits(text, expected):
    assert converter("bit", None)(text) == expected


def test_strings_are_stripped_cut_and_empty_is_null():
    assert converter("string", 5)("  abcdefg ") == "abcde"
    assert converter("string", 3)("ab  cd") == "ab"
    assert converter("string", -1)("x" * 5000) == "x" * 5000  # -1: no limit (the original cut one off)
    assert converter("string", 10)("   ") is None
    assert converter("string", None)(Decimal("12.50")) == "12.50"
    assert converter("string", None)(Decimal("600")) == "600"
    assert digits_only("(801) 555-0123 x4") == "80155501234"
