"""Trigger-form Params of ``opendental_nightly``. The schema refuses a table name that is not an identifier
or a ``parallel`` beyond the configured maximum before the run exists; ``plan`` checks the tables against
the source's catalogue."""

from __future__ import annotations

from airflow.sdk import Param

from pipelines.common.params import bool_param, identifier_list_param, int_param
from pipelines.opendental.config import Settings


def nightly_params(settings: Settings) -> dict[str, Param]:
    return {
        "tables": identifier_list_param(
            title="Tables", description="OpenDental tables to process (default: all discovered tables). "
            "Unknown names are rejected with the list of valid ones."),
        "force": bool_param(False, title="Force full refresh",
                            description="Copy every table in full, ignoring watermarks."),
        "dry_run": bool_param(False, title="Dry run", description="Log the per-table plan (strategy, watermark, "
                              "estimated rows) and change nothing anywhere."),
        "parallel": int_param(settings.parallel_default, title="Parallel tables", minimum=1,
                              maximum=settings.parallel_max, description="How many tables run at the same time."),
        "allow_business_hours": bool_param(
            False, title="Allow business hours", description=f"Run against production between "
            f"{settings.business_start:%H:%M} and {settings.business_end:%H:%M} ({settings.timezone})."),
    }
