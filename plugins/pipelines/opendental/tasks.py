"""The bodies of the ``opendental_nightly`` tasks (one line each in the DAG file).

Task bodies take and return plain dicts (XCom); inside, a table's plan is a ``TablePlan`` and its run a
``TableRun`` record, each crossing XCom by its ``to_xcom``/``from_xcom``. What they share lives beside:
the business-hours gate (``gate``), the concurrency slots (``slots``), the stage wrapper (``stages``) and
the run summary (``summary``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pendulum

from pipelines.common.errors import fail_without_retry
from pipelines.opendental.checks import check_tally
from pipelines.opendental.config import Settings, load_settings
from pipelines.opendental.connections import DEFAULT_IDS, ConnIds, check_connections, checked_mysql, mysql
from pipelines.opendental.db import count
from pipelines.opendental.extract import extract_table
from pipelines.opendental.gate import SCHEDULED, may_read_production
from pipelines.opendental.identifiers import mysql_ident
from pipelines.opendental.load import load_table
from pipelines.opendental.plan import TablePlan, build_plan, format_plan
from pipelines.opendental.schema import discover
from pipelines.opendental.stages import Step, run_table
from pipelines.opendental.state import get_state
from pipelines.opendental.summary import report_run, validated_results
from pipelines.opendental.tablerun import TableRun, window_for
from pipelines.opendental.transform import transform_table
from pipelines.opendental.validation import validate_table

log = logging.getLogger(__name__)

# --- task bodies ---------------------------------------------------------------------------------------


@fail_without_retry
def business_hours_gate(allow: bool, run_type: str, run_after: datetime) -> bool:
    """False (the DAG's short-circuit skips the whole run) for a scheduled run whose slot is long past."""
    slot = run_after if run_type == SCHEDULED else None  # a str or a str-valued DagRunType
    return may_read_production(pendulum.now("UTC"), load_settings(), allow, scheduled_slot=slot)


@fail_without_retry
def test_connections() -> dict[str, str]:
    versions = check_connections()
    for conn_id, version in versions.items():
        log.info("connection %s: ok (server %s)", conn_id, version)
    return versions


@fail_without_retry
def plan(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [p.to_xcom() for p in plan_tables(params, load_settings())]


@fail_without_retry
def copy_table(table_plan: dict[str, Any]) -> dict[str, Any]:
    """One table's night in one mapped task: extract, load, transform, validation (``TABLE_STEPS``)."""
    return run_table(TablePlan.from_xcom(table_plan), TABLE_STEPS)


def _extract(plan: TablePlan, _run: TableRun | None, _context: Mapping[str, Any]) -> TableRun:
    return extract_table(plan, load_settings())


def _load(_plan: TablePlan, run: TableRun | None, _context: Mapping[str, Any]) -> TableRun:
    return load_table(_after(run), load_settings())


def _transform(_plan: TablePlan, run: TableRun | None, _context: Mapping[str, Any]) -> TableRun:
    return transform_table(_after(run), load_settings())


def _validate(_plan: TablePlan, run: TableRun | None, context: Mapping[str, Any]) -> TableRun:
    return validate_table(_after(run), context["run_id"])


def _after(run: TableRun | None) -> TableRun:
    if run is None:
        raise ValueError("a stage after extract ran without extract's record")
    return run


# A table's stages in run order: the copying stages of ``config.STAGES``, then validation (counts only).
TABLE_STEPS: tuple[tuple[str, Step], ...] = (
    ("extract", _extract), ("load", _load), ("transform", _transform), ("validation", _validate))


@fail_without_retry
def summarize(planned: list[dict[str, Any]] | None, validated: Any) -> list[dict]:
    """Log the summary; fail if the plan is missing or a planned table was not validated."""
    from airflow.sdk import get_current_context

    plans = None if planned is None else [TablePlan.from_xcom(p) for p in planned]
    checks = check_tally(get_current_context()["run_id"]) if plans else {}
    return report_run(plans, [TableRun.from_xcom(v) for v in validated_results(validated)], checks)


# --- plan ----------------------------------------------------------------------------------------------


def plan_tables(params: Mapping[str, Any], settings: Settings, ids: ConnIds = DEFAULT_IDS) -> list[TablePlan]:
    """The ordered per-table plan; for a dry run it is logged with watermarks and row estimates and an
    empty list is returned, so no extract, load or transform runs.

    The run's first connection: requested table names can only be checked against the source's catalogue,
    so an unknown one is refused here, after one read-only discovery and before the replica or analytics
    is opened (``test_connections`` follows)."""
    with checked_mysql(ids.source, read_only=True) as source:
        schemas = discover(source.cursor())
        plans = build_plan(schemas, settings, params.get("tables") or None, force=bool(params.get("force")))
        details = _dry_run_details(source, plans, settings, ids) if params.get("dry_run") else {}
    log.info("plan (%d tables, parallel %s):\n%s", len(plans), params.get("parallel"), format_plan(plans, details))
    if params.get("dry_run"):
        log.info("dry run: nothing was changed; no extract, load or transform will run")
        return []
    return plans


def _dry_run_details(source: Any, plans: list[TablePlan], settings: Settings, ids: ConnIds) -> dict[str, Any]:
    """Stored watermark and the rows a real run would copy, read without writing anything anywhere."""
    details: dict[str, Any] = {}
    with mysql(ids.replica) as replica:
        for plan in plans:
            state = get_state(replica, plan.table)
            window = None if plan.force or state is None else window_for(
                plan, last_value=state.last_value, last_key=state.last_key, overlap=settings.overlap)
            last_value = state.last_value if state else None
            if window and plan.strategy == "append_only":
                last_value = f"{plan.key_column} {window.value}"
            rows = count(source, mysql_ident(plan.table), *window.condition(mysql_ident)) if window \
                else plan.estimated_rows
            details[plan.table] = {"last_value": last_value, "rows_to_copy": rows}
    return details
