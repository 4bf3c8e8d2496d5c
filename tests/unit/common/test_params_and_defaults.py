from __future__ import annotations

from datetime import timedelta

import pytest
from airflow.sdk import Param
from airflow.sdk.exceptions import ParamValidationError

from pipelines.common import params
from pipelines.common.alerts import notify_dag_failure, notify_task_failure
from pipelines.common.defaults import dag_defaults, default_args
from pipelines.common.paths import read_sql


def resolves(param: Param, value) -> bool:
    try:
        param.resolve(value)
    except ParamValidationError:
        return False
    return True


def test_int_param_enforces_bounds():
    workers = params.int_param(8, title="Workers", description="modulus", minimum=1, maximum=64)

    assert resolves(workers, 1)
    assert not resolves(workers, 0)
    assert not resolves(workers, 65)
    assert not resolves(workers, "8x")


def test_int_list_param_accepts_null_and_bounded_unique_items():
    remainders = params.int_list_param(title="Remainders", description="subset", minimum=0, maximum=7)

    assert resolves(remainders, None)
    assert resolves(remainders, [2, 5])
    assert not resolves(remainders, [8])
    assert not resolves(remainders, [2, 2])


def test_identifier_list_param_rejects_injection():
    tables = params.identifier_list_param(title="Tables", description="names")

    assert resolves(tables, ["patient", "claim_proc"])
    assert not resolves(tables, ["patient; drop table x"])
    assert not resolves(tables, ["it's"])


def test_date_param_accepts_sentinel_and_real_dates_only():
    snapshot = params.date_param("_NONE_", title="Snapshot", description="date", sentinel="_NONE_")

    assert resolves(snapshot, "_NONE_")
    assert resolves(snapshot, "2025-10-31")
    assert not resolves(snapshot, "2025-13-01")
    assert not resolves(snapshot, "yesterday")


def test_enum_and_bool_params():
    assert not resolves(params.enum_param("dev", ["dev", "prod"], title="Env", description="e"), "qa")
    assert not resolves(params.bool_param(False, title="Force", description="f"), "yes")


def test_default_args_carry_alert_owner_and_retries():
    args = default_args(retries=3, retry_delay=timedelta(minutes=1))

    assert args["on_failure_callback"] is notify_task_failure
    assert args["owner"] == "data-platform"
    assert args["retries"] == 3


def test_default_args_refuse_zero_retries():
    with pytest.raises(ValueError, match="retries"):
        default_args(retries=0)


def test_dag_defaults_set_callback_and_sql_search_path():
    kwargs = dag_defaults(tags=["t"], max_active_runs=1)

    assert kwargs["on_failure_callback"] is notify_dag_failure
    assert kwargs["template_searchpath"][0].endswith("include/sql")
    assert kwargs["catchup"] is False
    assert kwargs["max_active_runs"] == 1


def test_read_sql_names_missing_file():
    with pytest.raises(FileNotFoundError, match=r"include/sql/nope/missing\.sql"):
        read_sql("nope/missing.sql")
