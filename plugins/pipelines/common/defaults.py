"""default_args and DAG-level settings every pipeline DAG starts from."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum

from pipelines.common.airflow_failures import reject_unknown_conf
from pipelines.common.alerts import notify_dag_failure, notify_task_failure
from pipelines.common.paths import sql_dir

DEFAULT_OWNER = "data-platform"
# Static and timezone-aware, as Airflow requires; catchup stays off so it never triggers history.
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")


def default_args(
    *,
    owner: str = DEFAULT_OWNER,
    retries: int = 2,
    retry_delay: timedelta = timedelta(minutes=5),
    execution_timeout: timedelta | None = timedelta(hours=2),
    on_failure_callback: Any = notify_task_failure,
    **extra: Any,
) -> dict[str, Any]:
    """Task defaults: owner, retries with a delay, a timeout, the Slack failure alert, and the check that
    refuses a run whose conf has keys the DAG does not declare."""
    if retries < 1:
        raise ValueError("retries must be at least 1: a nightly pipeline must survive one transient error")
    return {
        "owner": owner,
        "retries": retries,
        "retry_delay": retry_delay,
        "execution_timeout": execution_timeout,
        "on_failure_callback": on_failure_callback,
        "pre_execute": reject_unknown_conf,
        **extra,
    }


def dag_defaults(*, tags: list[str], **overrides: Any) -> dict[str, Any]:
    """Keyword arguments shared by every DAG: start date, no catchup, SQL search path, failure alert."""
    return {
        "start_date": START_DATE,
        "catchup": False,
        "tags": tags,
        "template_searchpath": [str(sql_dir())],
        "on_failure_callback": notify_dag_failure,
        "default_args": default_args(),
        **overrides,
    }
