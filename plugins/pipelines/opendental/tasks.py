"""The bodies of the ``opendental_nightly`` tasks (one line each in the DAG file) and what they share:
the business-hours gate, the run-time table slots, one-line stage errors and the run summary.

Task bodies take and return plain dicts (XCom); inside, a table's run is a ``TableRun`` record.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pendulum

from pipelines.common.errors import fail_without_retry
from pipelines.common.failures import AlreadyReported
from pipelines.common.mapped import mapped_results
from pipelines.common.metrics import emit
from pipelines.opendental.checks import check_tally
from pipelines.opendental.config import Settings, load_settings
from pipelines.opendental.connections import DEFAULT_IDS, ConnIds, check_connections, checked_mysql, mysql
from pipelines.opendental.db import count
from pipelines.opendental.errors import (
    BusinessCheckFailed,
    BusinessHoursError,
    IncompleteRunError,
    RowCountMismatch,
    StageError,
)
from pipelines.opendental.extract import extract_table
from pipelines.opendental.identifiers import mysql_ident
from pipelines.opendental.load import load_table
from pipelines.opendental.observability import declare_stage
from pipelines.opendental.plan import TablePlan, build_plan, format_plan
from pipelines.opendental.schema import discover
from pipelines.opendental.state import get_state
from pipelines.opendental.tablerun import TableRun, window_for
from pipelines.opendental.transform import transform_table
from pipelines.opendental.validation import validate_table

log = logging.getLogger(__name__)
STAGES = ("extract", "load", "transform")
SCHEDULED = "scheduled"  # DagRunType.SCHEDULED: the runs the timetable starts (not manual, not backfill)

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
    return [p.to_dict() for p in plan_tables(params, load_settings())]


@fail_without_retry
def extract(table_plan: dict[str, Any]) -> dict[str, Any]:
    plan = TablePlan.from_dict(table_plan)
    return table_stage("extract", plan.table, lambda: extract_table(plan, load_settings()))


@fail_without_retry
def load(extracted: dict[str, Any]) -> dict[str, Any]:
    return next_stage("load", load_table, extracted)


@fail_without_retry
def transform(loaded: dict[str, Any]) -> dict[str, Any]:
    return next_stage("transform", transform_table, loaded)


@fail_without_retry
def validate(transformed: dict[str, Any]) -> dict[str, Any]:
    run = TableRun.from_xcom(transformed)
    context = label_this_task(run.table)
    return run_stage("validation", run.table, lambda: validate_table(run, context["run_id"])).to_xcom()


@fail_without_retry
def summary(planned: list[dict[str, Any]] | None, validated: Any) -> list[dict]:
    """Log the summary; fail if the plan is missing or a planned table was not validated."""
    from airflow.sdk import get_current_context

    plans = None if planned is None else [TablePlan.from_dict(p) for p in planned]
    checks = check_tally(get_current_context()["run_id"]) if plans else {}
    return finish(plans, [TableRun.from_xcom(v) for v in validated_results(validated)], checks)


def validated_results(validated: Any) -> list[dict[str, Any]]:
    """The per-table group's results as a list. Outside a mapped task group, Airflow hands over the list of
    the instances' values, but the value itself when only one instance returned one (one table, or all
    tables but one failed), and None when none did."""
    if validated is None:
        return []
    if isinstance(validated, Mapping):
        return [dict(validated)]
    return [dict(v) for v in mapped_results(validated) if v]


# --- business hours ------------------------------------------------------------------------------------


def in_business_hours(now: datetime, settings: Settings) -> bool:
    local = pendulum.instance(now).in_timezone(settings.timezone).time()
    return settings.business_start <= local.replace(tzinfo=None) < settings.business_end


def may_read_production(now: datetime, settings: Settings, allow: bool, scheduled_slot: datetime | None = None) -> bool:
    """True when the run may go on; False, with one log line saying why and what to do, for a scheduled run
    whose slot is long past (the DAG was first enabled, or unpaused, during the day: the scheduler starts
    the latest slot at once); a manual run inside business hours without ``allow`` is refused (one alert)."""
    if scheduled_slot is not None and (reason := late_slot(scheduled_slot, now, settings)):
        log.warning("%s", reason)
        return False
    log.info("%s", check_business_hours(now, settings, allow))
    return True


def late_slot(slot: datetime, now: datetime, settings: Settings) -> str | None:
    """Why a scheduled run for ``slot`` must not read production ``now``, or None when it may: inside business
    hours, or once the business window that follows its slot has opened, the night it was meant for is over."""
    zone = settings.timezone
    local_slot, local_now = pendulum.instance(slot).in_timezone(zone), pendulum.instance(now).in_timezone(zone)
    opens = next_business_start(slot, settings)
    if in_business_hours(now, settings):
        why = f"it would read production inside business hours ({business_window(settings)})"
    elif now >= opens:
        why = f"business hours opened at {opens:%Y-%m-%d %H:%M} since its slot"
    else:
        return None
    return (f"skipped: the scheduled run for the {local_slot:%Y-%m-%d %H:%M} {zone} slot started at "
            f"{local_now:%Y-%m-%d %H:%M}, and {why}; production was not read and nothing changed. The next "
            f"slot runs as usual; to copy now, trigger the DAG by hand (with allow_business_hours=true "
            f"inside business hours).")


def next_business_start(moment: datetime, settings: Settings) -> pendulum.DateTime:
    """The first opening of business hours after ``moment``, in the DAG's time zone (DST-aware)."""
    local = pendulum.instance(moment).in_timezone(settings.timezone)
    start = settings.business_start
    opens = local.set(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    return opens if opens > local else opens.add(days=1).set(hour=start.hour, minute=start.minute)


def business_window(settings: Settings) -> str:
    return f"{settings.business_start:%H:%M}-{settings.business_end:%H:%M} {settings.timezone}"


def check_business_hours(now: datetime, settings: Settings, allow: bool) -> str:
    local = pendulum.instance(now).in_timezone(settings.timezone)
    window = business_window(settings)
    if in_business_hours(now, settings) and not allow:
        raise BusinessHoursError(
            f"refusing to read the production source at {local:%H:%M} {settings.timezone}: inside business hours "
            f"{window}; trigger with allow_business_hours=true to override")
    return f"{local:%Y-%m-%d %H:%M} {settings.timezone} ({'inside' if in_business_hours(now, settings) else 'outside'}"\
           f" business hours {window})"


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


# --- per-table stages ----------------------------------------------------------------------------------


@contextmanager
def concurrency_slot(parallel: int, ids: ConnIds = DEFAULT_IDS, poll_seconds: float = 5.0,
                     table: str | None = None) -> Iterator[int]:
    """Hold one of ``parallel`` named locks on the replica while a table's stage runs.

    ``parallel`` is a run-time param, which a static ``max_active_tis_per_dagrun`` cannot express. A
    named lock belongs to its session, so a worker that dies releases its slot with its connection."""
    with mysql(ids.replica) as replica:
        cur = replica.cursor()
        cur.execute("SELECT DATABASE()")
        database = cur.fetchone()[0]
        names = [f"odetl:{database}:{slot}"[-64:] for slot in range(max(1, parallel))]
        waited = started = time.monotonic()
        while (slot := _take_free_lock(cur, names)) is None:
            if time.monotonic() - waited > 60:
                log.info("waiting for one of %d table slots (param parallel)", len(names))
                waited = time.monotonic()
            time.sleep(poll_seconds)
        emit("opendental", {"lock_wait_seconds": round(time.monotonic() - started, 3)}, lock="table_slot", table=table)
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


def run_stage(stage: str, table: str, work: Callable[[], TableRun]) -> TableRun:
    """Run one stage for one table; a failure names both (its first line is what the Slack alert shows)."""
    try:
        return work()
    except (RowCountMismatch, BusinessCheckFailed):
        raise  # already one line naming the table and both counts (or the check, day and both totals)
    except Exception as exc:
        args = getattr(exc, "args", ())
        text = f"{args[0]} {args[1]}" if len(args) == 2 and isinstance(args[0], int) else str(exc)  # MySQL errno
        detail = f"{type(exc).__name__}: {scrub(text)}"
        log.error("%s of table %s failed: %s", stage, table, detail)
        # from None: the original message (and its traceback) may carry row values.
        raise StageError(f"table {table}: {stage} failed: {detail}") from None


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


def next_stage(stage: str, work: Callable[[TableRun, Settings], TableRun], previous: dict[str, Any]) -> dict:
    """A stage that continues the run handed over by the previous one."""
    run = TableRun.from_xcom(previous)
    return table_stage(stage, run.table, lambda: work(run, load_settings()))


def table_stage(stage: str, table: str, work: Callable[[], TableRun]) -> dict[str, Any]:
    """A mapped stage for one table: label it, take a concurrency slot, run it, name the table on failure."""
    context = label_this_task(table)
    parallel = int(context["params"].get("parallel") or 1)
    declare_stage(stage, table)
    with concurrency_slot(parallel, table=table):
        result = run_stage(stage, table, work).to_xcom()
    declare_stage(stage, table, result)
    return result


# --- summary -------------------------------------------------------------------------------------------


def summarize(planned: list[TablePlan] | None, results: list[TableRun],
              checks: Mapping[str, tuple[int, int]] | None = None) -> list[dict[str, Any]]:
    """Per table: strategy and mode, rows per stage, duration and rows/s per stage, business checks passed
    and failed (``checks``: table -> (passed, failed)); logged as a table. Planned tables without a
    validated result are listed as not completed."""
    done = {r.table for r in results}
    checks = checks or {}
    header = ("table", "strategy", "mode", *STAGES, "deleted", "verified", "repaired", "converted", "checks",
              "seconds", "validated")
    rows: list[tuple[str, ...]] = [header]
    lines = []
    for entry in [summary_row(r) for r in results] + [
            {"table": p.table, "strategy": p.strategy, "mode": "not completed", "validated": False, "stages": {},
             "seconds": 0.0} for p in planned or [] if p.table not in done]:
        if entry["table"] in checks:
            entry["checks"] = dict(zip(("passed", "failed"), checks[entry["table"]], strict=True))
        lines.append(entry)
        cells = [f"{s['rows']:,} in {s['seconds']:.1f}s ({s['rows_per_second']:,}/s)" if (s := entry["stages"].get(
            name)) else "-" for name in STAGES]
        deleted = "/".join(str(n) for n in entry["deleted"].values()) if "deleted" in entry else "-"
        repaired = "/".join(str(n) for n in entry["repaired"].values()) if "repaired" in entry else "-"
        converted = str(sum(n for kinds in entry.get("conversions", {}).values() for n in kinds.values()))
        tally = f"{c['passed']} ok, {c['failed']} failed" if (c := entry.get("checks")) else "-"
        rows.append((entry["table"], entry["strategy"], str(entry["mode"]), *cells, deleted,
                     f"{entry.get('verified', 0):,}", repaired, converted, tally, f"{entry['seconds']:.1f}",
                     "yes" if entry["validated"] else "no"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    log.info("summary:\n%s", "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows))
    return lines


def summary_row(run: TableRun) -> dict[str, Any]:
    stages = {}
    for name in STAGES:
        stage = run.stage(name)
        if stage:
            rate = stage.rows / stage.seconds if stage.seconds > 0 else 0.0
            stages[name] = {"rows": stage.rows, "seconds": stage.seconds, "rows_per_second": round(rate)}
    # Rows deleted at the source and removed from replica / raw / public by this run.
    deleted = {"replica": run.deleted("extract"), "raw": run.deleted("load"), "public": run.deleted("transform")}
    # Rows changed in place at the source (content verification) and rewritten in replica / raw / public.
    repaired = {"replica": run.repaired("extract"), "raw": run.repaired("load"), "public": run.repaired("transform")}
    extracted = run.stage("extract")
    return {"table": run.table, "strategy": run.strategy, "mode": run.mode, "validated": run.validation is not None,
            "stages": stages, "deleted": deleted, "verified": extracted.verified if extracted else 0,
            "repaired": repaired, "conversions": run.conversions("load"),
            "seconds": round(sum(s["seconds"] for s in stages.values()), 3)}


def finish(planned: list[TablePlan] | None, validated: list[TableRun],
           checks: Mapping[str, tuple[int, int]] | None = None) -> list[dict[str, Any]]:
    """Log the summary; raise if a planned table was not validated. Without a plan the run was refused or
    stopped before planning, which its failed task has reported: the summary fails only to keep the run
    red, without an alert of its own, so one refusal is one alert."""
    rows = summarize(planned, validated, checks)
    if planned is None:
        raise AlreadyReported("no plan: the run stopped before planning (see the failed task above)")
    unfinished = [row["table"] for row in rows if not row["validated"]]
    if unfinished:
        raise IncompleteRunError(f"{len(unfinished)} of {len(rows)} tables did not complete: {', '.join(unfinished)}")
    return rows
