"""The bodies of the ``opendental_nightly`` tasks: the DAG file only wires these together."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pendulum

from pipelines.common.failures import AlreadyReported
from pipelines.opendental.config import Settings
from pipelines.opendental.connections import DEFAULT_IDS, ConnIds, check_connections, mysql
from pipelines.opendental.plan import TablePlan, build_plan, format_plan
from pipelines.opendental.schema import discover
from pipelines.opendental.state import get_state, window_start

log = logging.getLogger(__name__)


class BusinessHoursError(RuntimeError):
    """The run would read production while the clinic is open."""


class IncompleteRunError(RuntimeError):
    """Some planned tables did not reach validation (or there was no plan at all)."""


class StageError(RuntimeError):
    """A stage failed for one table; names the table and stage, not the rows (the log has the cause)."""


def in_business_hours(now: datetime, settings: Settings) -> bool:
    local = pendulum.instance(now).in_timezone(settings.timezone).time()
    return settings.business_start <= local.replace(tzinfo=None) < settings.business_end


def check_business_hours(now: datetime, settings: Settings, allow: bool) -> str:
    local = pendulum.instance(now).in_timezone(settings.timezone)
    window = f"{settings.business_start:%H:%M}-{settings.business_end:%H:%M} {settings.timezone}"
    if in_business_hours(now, settings) and not allow:
        raise BusinessHoursError(
            f"refusing to read the production source at {local:%H:%M} {settings.timezone}: inside business hours "
            f"{window}; trigger with allow_business_hours=true to override")
    return f"{local:%Y-%m-%d %H:%M} {settings.timezone} ({'inside' if in_business_hours(now, settings) else 'outside'}"\
           f" business hours {window})"


def connection_check(ids: ConnIds = DEFAULT_IDS) -> dict[str, str]:
    versions = check_connections(ids)
    for conn_id, version in versions.items():
        log.info("connection %s: ok (server %s)", conn_id, version)
    return versions


def plan_tables(params: Mapping[str, Any], settings: Settings, ids: ConnIds = DEFAULT_IDS) -> list[dict[str, Any]]:
    """The ordered per-table plan; for a dry run it is logged with watermarks and row estimates and an
    empty list is returned, so no extract, load or transform runs."""
    with mysql(ids.source, read_only=True) as source:
        schemas = discover(source.cursor())
        plans = build_plan(schemas, settings, params.get("tables") or None, force=bool(params.get("force")))
        details = _dry_run_details(source, plans, settings, ids) if params.get("dry_run") else {}
    log.info("plan (%d tables, parallel %s):\n%s", len(plans), params.get("parallel"), format_plan(plans, details))
    if params.get("dry_run"):
        log.info("dry run: nothing was changed; no extract, load or transform will run")
        return []
    return [p.to_dict() for p in plans]


def _dry_run_details(source: Any, plans: list[TablePlan], settings: Settings, ids: ConnIds) -> dict[str, Any]:
    """Stored watermark and the rows a real run would copy, read without writing anything anywhere."""
    from pipelines.opendental.identifiers import mysql_ident

    details: dict[str, Any] = {}
    with mysql(ids.replica) as replica:
        for plan in plans:
            state = get_state(replica, plan.table)
            info: dict[str, Any] = {"last_value": state.last_value if state else None, "rows_to_copy": None}
            since = window_start(state.last_value, settings.overlap) if state else None
            cur = source.cursor()
            if not plan.force and plan.strategy == "incremental" and since:
                cur.execute(f"SELECT COUNT(*) FROM {mysql_ident(plan.table)} "
                            f"WHERE {mysql_ident(plan.watermark_column)} >= %s", [since])
                info["rows_to_copy"] = int(cur.fetchone()[0])
            elif not plan.force and plan.strategy == "append_only" and state and state.last_key is not None:
                info["last_value"] = f"{plan.key_column} {state.last_key}"
                cur.execute(f"SELECT COUNT(*) FROM {mysql_ident(plan.table)} WHERE {mysql_ident(plan.key_column)} > %s",
                            [state.last_key])
                info["rows_to_copy"] = int(cur.fetchone()[0])
            else:
                info["rows_to_copy"] = plan.estimated_rows
            cur.close()
            details[plan.table] = info
    return details


@contextmanager
def concurrency_slot(parallel: int, ids: ConnIds = DEFAULT_IDS, poll_seconds: float = 5.0) -> Iterator[int]:
    """Hold one of ``parallel`` named locks on the replica while a table's stage runs.

    ``parallel`` is a run-time param, which a static ``max_active_tis_per_dagrun`` cannot express. A
    named lock belongs to its session, so a worker that dies releases its slot with its connection."""
    with mysql(ids.replica) as replica:
        cur = replica.cursor()
        cur.execute("SELECT DATABASE()")
        database = cur.fetchone()[0]
        names = [f"odetl:{database}:{slot}"[-64:] for slot in range(max(1, parallel))]
        waited = time.monotonic()
        while (slot := _take_free_lock(cur, names)) is None:
            if time.monotonic() - waited > 60:
                log.info("waiting for one of %d table slots (param parallel)", len(names))
                waited = time.monotonic()
            time.sleep(poll_seconds)
        try:
            yield slot
        finally:
            cur.execute("SELECT RELEASE_LOCK(%s)", [names[slot]])
            cur.close()


def _take_free_lock(cur: Any, names: list[str]) -> int | None:
    for slot, name in enumerate(names):
        cur.execute("SELECT GET_LOCK(%s, 0)", [name])
        if cur.fetchone()[0] == 1:
            return slot
    return None


QUOTED = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"")


def scrub(message: str) -> str:
    """An error's first line with every quoted literal masked: database errors quote row values
    (``Duplicate entry 'Smith' for key``), which must not reach logs or alerts."""
    first = (message.strip().splitlines() or [""])[0]
    return QUOTED.sub("'…'", first)[:300]


def run_stage(stage: str, table: str, work: Any, *args: Any) -> dict[str, Any]:
    """Run one stage for one table; a failure names both (its first line is what the Slack alert shows)."""
    from pipelines.opendental.validation import RowCountMismatch

    try:
        return work(*args)
    except RowCountMismatch:
        raise  # already one line naming the table and both counts
    except Exception as exc:
        args = getattr(exc, "args", ())
        text = f"{args[0]} {args[1]}" if len(args) == 2 and isinstance(args[0], int) else str(exc)  # MySQL errno
        detail = f"{type(exc).__name__}: {scrub(text)}"
        log.error("%s of table %s failed: %s", stage, table, detail)
        # from None: the original message (and its traceback) may carry row values.
        raise StageError(f"table {table}: {stage} failed: {detail}") from None


def summarize(planned: list[dict[str, Any]] | None, results: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Per table: strategy and mode, rows per stage, duration and rows/s per stage; logged as a table.
    Planned tables without a validated result are listed as not completed."""
    results = [r for r in results or [] if r]
    done = {r["table"] for r in results}
    results += [{**p, "mode": "not completed", "stages": {}} for p in planned or [] if p["table"] not in done]
    lines = []
    header = ("table", "strategy", "mode", "extract", "load", "transform", "seconds", "validated")
    rows: list[tuple[str, ...]] = [header]
    for result in results:
        if not result:
            continue
        stages = result.get("stages", {})
        entry = {"table": result["table"], "strategy": result["strategy"], "mode": result.get("mode"),
                 "validated": "validation" in result, "stages": {}}
        total = 0.0
        cells = []
        for name in ("extract", "load", "transform"):
            stage = stages.get(name)
            if not stage:
                cells.append("-")
                continue
            seconds = float(stage.get("seconds") or 0)
            rate = stage["rows"] / seconds if seconds > 0 else 0.0
            total += seconds
            entry["stages"][name] = {"rows": stage["rows"], "seconds": seconds, "rows_per_second": round(rate)}
            cells.append(f"{stage['rows']:,} in {seconds:.1f}s ({rate:,.0f}/s)")
        entry["seconds"] = round(total, 3)
        lines.append(entry)
        rows.append((entry["table"], entry["strategy"], str(entry["mode"]), *cells, f"{total:.1f}",
                     "yes" if entry["validated"] else "no"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    log.info("summary:\n%s", "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows))
    return lines


def label_this_task(table: str) -> dict[str, Any]:
    """Name the mapped task instance after its table (``map_index_template="{{ table_label }}"``) and hand
    the same name to the Slack alert; returns the task context."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    context["table_label"] = table  # type: ignore[index]
    return context  # type: ignore[return-value]


def alert_details(context: Mapping[str, Any]) -> Mapping[str, Any]:
    """Extra Slack alert fields for a per-table task: the table's name."""
    table = context.get("table_label")
    return {"Table": table} if table else {}


def table_stage(stage: str, work: Any, item: dict[str, Any], *args: Any) -> dict[str, Any]:
    """A mapped stage for one table: label it, take a concurrency slot, run it, name the table on failure."""
    context = label_this_task(item["table"])
    parallel = int(context["params"].get("parallel") or 1)
    with concurrency_slot(parallel):
        return run_stage(stage, item["table"], work, item, *args)


def finish(planned: list[dict[str, Any]] | None, validated: list[dict[str, Any] | None] | None) -> list[dict[str, Any]]:
    """Log the summary; raise if a planned table was not validated. Without a plan the run was refused or
    stopped before planning, which its failed task has reported: the summary fails only to keep the run
    red, without an alert of its own, so one refusal is one alert."""
    rows = summarize(list(planned or []), list(validated or []))
    if planned is None:
        raise AlreadyReported("no plan: the run stopped before planning (see the failed task above)")
    unfinished = [row["table"] for row in rows if not row["validated"]]
    if unfinished:
        raise IncompleteRunError(f"{len(unfinished)} of {len(rows)} tables did not complete: {', '.join(unfinished)}")
    return rows
