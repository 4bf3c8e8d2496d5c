"""Trigger-form Params of the Fileload and Insight DAGs (every program and partition has the same)."""

from __future__ import annotations

from airflow.sdk import Param

from pipelines.common.params import bool_param


def program_params() -> dict[str, Param]:
    return {
        "force_unlock": bool_param(
            False, title="Force unlock",
            description="Clear a stale Insight lock flag or run lock left by a dead run (older than "
                        "stale_lock_minutes) and proceed. Only when you know that run is not working."),
    }
