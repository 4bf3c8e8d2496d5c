"""The calculated-field compiler: every operator, precedence, parentheses, LIKE, DATE, DATEADD, missing values."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

import pytest

from pipelines.xml_mapping.expressions import ExpressionError, compile_expression, referenced_names


def evaluate(text: str, own: dict[str, str] | None = None, **scopes: dict[str, str]):
    def scope(qualifier, attribute):
        values = own or {} if qualifier is None else scopes.get(qualifier, {})
        return values.get(attribute)
    return compile_expression(text)(scope)


@pytest.mark.parametrize(("text", "expected"), [
    ("1 + 2 * 3", Decimal(7)),
    ("(1 + 2) * 3", Decimal(9)),
    ("10 - 4 - 3", Decimal(3)),
    ("12 / 4 / 3", Decimal(1)),
    ("-2 * 3", Decimal(-6)),
    ("a + (b * 12)", Decimal(29)),
    ("a / 0", None),
])
def test_arithmetic_honours_precedence_and_parentheses(text, expected):
    assert evaluate(text, {"a": "5", "b": "2"}) == expected


def test_arithmetic_with_a_missing_or_non_numeric_operand_is_null():
    assert evaluate("a + b", {"a": "5"}) is None
    assert evaluate("a + b", {"a": "5", "b": ""}) is None
    assert evaluate("a * 12", {"a": "n/a"}) is None
    assert evaluate("a * 2", {"a": "1,500"}) == Decimal(3000)


@pytest.mark.parametrize(("op", "left", "right", "expected"), [
    ("=", "5", "5.0", True), ("=", "ABC", "ABC", True), ("=", "abc", "ABC", False),
    ("!=", "A", "B", True), ("<>", "A", "A", False),
    ("<", "9", "10", True),  # numbers compare as numbers, not as text
    ("<=", "10", "10", True), (">", "2", "10", False), (">=", "3", "3", True),
])
def test_comparisons(op, left, right, expected):
    assert evaluate(f"CASE WHEN x {op} y THEN 'yes' ELSE 'no' END", {"x": left, "y": right}) == (
        "yes" if expected else "no")


def test_comparison_with_a_missing_value_is_false_both_ways():
    text = "CASE WHEN x = 'A' THEN 1 WHEN x != 'A' THEN 2 ELSE 3 END"
    assert evaluate(text, {}) == Decimal(3)


def test_dates_compare_as_dates_even_against_quoted_strings():
    text = "CASE WHEN d > '2020-01-01' THEN 'after' ELSE 'before' END"
    assert evaluate(text, {"d": "5/1/2019"}) == "before"  # the original compared these as text: 'after'
    assert evaluate(text, {"d": "2021-3-4 10:00:00.5"}) == "after"
    assert evaluate("CASE WHEN d > DATE('2023-10-11 00:00:00') THEN 1 ELSE 0 END", {"d": "10/12/2023"}) == 1


def test_quoted_literals_keep_their_case_in_conditions_with_and():
    text = "CASE WHEN a = 'x' AND b = 'Yes' THEN 1 ELSE 0 END"
    assert evaluate(text, {"a": "x", "b": "Yes"}) == 1
    assert evaluate(text, {"a": "X", "b": "Yes"}) == 0


def test_and_binds_tighter_than_or_and_parentheses_group():
    assert evaluate("CASE WHEN a = 1 OR b = 1 AND c = 1 THEN 1 ELSE 0 END", {"a": "1", "b": "0", "c": "0"}) == 1
    assert evaluate("CASE WHEN (a = 1 OR b = 1) AND c = 1 THEN 1 ELSE 0 END", {"a": "1", "b": "0", "c": "0"}) == 0
    # The original read (months > 0 OR years > 0) as true whenever years was non-empty.
    text = "CASE WHEN (m > 0 OR y > 0) THEN (m + (y * 12)) END"
    assert evaluate(text, {"m": "0", "y": "0"}) is None
    assert evaluate(text, {"m": "4", "y": "1"}) == Decimal(16)


def test_not_negates_a_condition():
    assert evaluate("CASE WHEN NOT a = 1 THEN 'n' ELSE 'y' END", {"a": "2"}) == "n"


@pytest.mark.parametrize(("pattern", "value", "expected"), [
    ("'TU%'", "tu_fico", True), ("'%TRAIL%'", "magic trailer", True), ("'V4_%'", "V4_68", True),
    ("'V4_%'", "V4", False), ("'A_C'", "abc", True), ("'A_C'", "abbc", False), ("'50.0%'", "5000", False),
])
def test_like_is_case_insensitive_with_percent_and_underscore(pattern, value, expected):
    assert evaluate(f"CASE WHEN v LIKE {pattern} THEN 1 ELSE 0 END", {"v": value}) == (1 if expected else 0)


def test_not_like_and_like_of_a_missing_value():
    assert evaluate("CASE WHEN v NOT LIKE 'A%' THEN 1 ELSE 0 END", {"v": "bcd"}) == 1
    assert evaluate("CASE WHEN v LIKE '%' THEN 1 ELSE 0 END", {}) == 0


def test_is_empty_and_is_null():
    text = "CASE WHEN v IS NULL THEN 'null' WHEN v IS EMPTY THEN 'empty' WHEN v IS NOT EMPTY THEN 'value' END"
    assert evaluate(text, {}) == "null"
    assert evaluate(text, {"v": "  "}) == "empty"
    assert evaluate(text, {"v": "x"}) == "value"
    assert evaluate("CASE WHEN v IS NOT NULL THEN 1 ELSE 0 END", {"v": ""}) == 1


def test_case_without_a_match_and_without_else_is_null():
    assert evaluate("CASE WHEN v = 'A' THEN 1 END", {"v": "B"}) is None


def test_names_resolve_against_qualified_elements():
    text = "CASE WHEN app.kind = 'RV' AND own_attr IS NOT EMPTY THEN other.code ELSE 'none' END"
    assert evaluate(text, {"own_attr": "1"}, app={"kind": "RV"}, other={"code": "X9"}) == "X9"


def test_dateadd_adds_days_to_a_date():
    text = "DATEADD(day, n, d)"
    assert evaluate(text, {"n": "7", "d": "2025-05-07 21:35:29.548"}) == datetime(2025, 5, 14)
    assert evaluate(text, {"n": "", "d": "2025-05-07"}) is None
    assert evaluate(text, {"n": "3", "d": "not a date"}) is None


def test_nested_case_and_case_inside_arithmetic_results():
    text = "CASE WHEN a = 1 THEN CASE WHEN b = 2 THEN 'ab' ELSE 'a' END ELSE 'none' END"
    assert evaluate(text, {"a": "1", "b": "2"}) == "ab"
    assert evaluate("CASE WHEN a = 1 THEN b * 12 END", {"a": "1", "b": "1000"}) == Decimal(12000)


@pytest.mark.parametrize(("text", "message"), [
    ("CASE WHEN a = 1 THEN 2", "expected END"),
    ("CASE a = 1 END", "CASE without WHEN"),
    ("a +", "ends too early"),
    ("(a + 1", "expected )"),
    ("a ! b", "unexpected character"),
    ("CASE WHEN a IS FULL THEN 1 END", "expected kw"),
    ("FOO(1)", "unknown function"),
    ("DATE('soon')", "is not a date"),
    ("DATEADD(month, 1, d)", "days only"),
    ("a b", "after the end"),
    ("", "empty expression"),
])
def test_expressions_that_do_not_parse_raise_one_line_errors(text, message):
    with pytest.raises(ExpressionError, match=re.escape(message)) as info:
        compile_expression(text)
    assert "\n" not in str(info.value)


def test_referenced_names_skip_function_names_and_the_dateadd_unit():
    names = referenced_names("CASE WHEN x.a > 0 THEN DATEADD(day, x.a, b) WHEN DATE('2020-01-01') < c THEN 1 END")
    assert names == [("x", "a"), ("x", "a"), (None, "b"), (None, "c")]
