"""Conf that cannot misfire: unknown keys named with the likely intended one, calendar dates only."""

from __future__ import annotations

import pytest
from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.exceptions import ParamValidationError

from pipelines.common.params import date_param, unknown_conf_keys


def test_known_keys_pass() -> None:
    assert unknown_conf_keys({"workers": 4}, ["workers", "batch"]) is None
    assert unknown_conf_keys(None, ["workers"]) is None
    assert unknown_conf_keys({}, []) is None


def test_unknown_keys_are_named_with_suggestions_and_the_valid_ones() -> None:
    message = unknown_conf_keys({"wrokers": 4, "zzz": 1, "batch": 5}, ["workers", "batch", "limit"])
    assert message == ("unknown conf keys 'wrokers' (did you mean 'workers'?), 'zzz'; "
                       "valid keys: batch, limit, workers")


def test_a_dag_without_params_takes_no_conf() -> None:
    assert unknown_conf_keys({"snapshot_dt": "2026-01-01"}, []) == (
        "unknown conf key 'snapshot_dt'; valid keys: none (this DAG takes no conf)")


@pytest.mark.parametrize("value", ["2026-02-30", "2026-13-01", "2026-1-1", "20260101", "yesterday"])
def test_impossible_dates_are_refused_when_triggered(value: str) -> None:
    params = ParamsDict({"snapshot_dt": date_param("2026-01-01", title="Snapshot", description="d")})
    with pytest.raises(ParamValidationError, match="snapshot_dt"):
        params["snapshot_dt"] = value  # what a trigger with conf does: each given value is validated


def test_calendar_dates_and_the_sentinel_pass() -> None:
    plain = date_param("2026-01-01", title="Snapshot", description="d")
    with_sentinel = date_param("_NONE_", title="Snapshot", description="d", sentinel="_NONE_")
    assert plain.resolve("2024-02-29") == "2024-02-29"
    assert with_sentinel.resolve("_NONE_") == "_NONE_"
    assert with_sentinel.resolve("2026-12-31") == "2026-12-31"
    with pytest.raises(ParamValidationError):
        with_sentinel.resolve("2026-02-30")
    assert isinstance(plain, Param)
    assert plain.schema["format"] == "date"  # the trigger form shows a date picker
