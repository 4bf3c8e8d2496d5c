"""Table names from conf are checked against the discovered tables before any SQL is built."""

from __future__ import annotations

import pytest

from pipelines.opendental.errors import UnknownTablesError
from pipelines.opendental.identifiers import (
    is_safe_name,
    mysql_ident,
    pg_ident,
    snake_case,
    validate_tables,
)

AVAILABLE = ["patient", "procedurelog", "Appointment"]


@pytest.mark.parametrize(("name", "expected"), [
    ("PatNum", "pat_num"), ("DateTStamp", "date_t_stamp"), ("SecDateTEdit", "sec_date_t_edit"),
    ("Bal_0_30", "bal_0_30"), ("BalOver90", "bal_over90"), ("ClaimProcNum", "claim_proc_num"),
    ("IsCpoe", "is_cpoe"), ("SSN", "ssn"), ("already_snake", "already_snake"),
])
def test_snake_case(name, expected):
    assert snake_case(name) == expected


def test_identifiers_are_quoted_with_embedded_quotes_doubled():
    assert mysql_ident("pat`ient") == "`pat``ient`"
    assert pg_ident('Pat"Num') == '"Pat""Num"'


def test_all_tables_when_none_requested():
    assert validate_tables(None, AVAILABLE) == ["Appointment", "patient", "procedurelog"]


def test_requested_names_map_to_the_source_spelling_case_insensitively():
    assert validate_tables(["PATIENT", "appointment"], AVAILABLE) == ["patient", "Appointment"]


@pytest.mark.parametrize("bad", ["patient; drop table x", "nosuchtable", "patient`", "", "a b"])
def test_unknown_or_malicious_names_are_rejected_with_the_valid_ones(bad):
    with pytest.raises(UnknownTablesError) as raised:
        validate_tables(["patient", bad], AVAILABLE)
    message = str(raised.value)
    assert repr(bad) in message
    assert "valid tables: appointment, patient, procedurelog" in message
    assert "\n" not in message


def test_a_misspelt_table_gets_a_hint_and_a_large_source_a_count():
    many = [f"table{n:03d}" for n in range(446)] + ["procedurelog"]
    with pytest.raises(UnknownTablesError) as raised:
        validate_tables(["procedurelgo"], many)
    message = str(raised.value)
    assert message == "unknown tables: 'procedurelgo' (did you mean 'procedurelog'?); 447 valid tables (a dry run " \
                      "lists them)"


def test_safe_names():
    assert is_safe_name("procedurelog")
    assert not is_safe_name("x;drop")
    assert not is_safe_name("1abc")
