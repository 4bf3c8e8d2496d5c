"""The run summary: one row per planned table (rows, rates, deletions, repairs, conversions, checks per
stage), logged as a table; the run fails if a planned table was not validated."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pipelines.common.airflow_failures import AlreadyReported
from pipelines.common.mapped import mapped_results
from pipelines.opendental.config import STAGES
from pipelines.opendental.errors import IncompleteRunError
from pipelines.opendental.plan import TablePlan
from pipelines.opendental.tablerun import TableRun

# The task logs name the logger as the line's source: it stays the one the tasks logged under before
# this module was split out of tasks.py, so operators' log searches keep finding the summary.
log = logging.getLogger("pipelines.opendental.tasks")


def validated_results(validated: Any) -> list[dict[str, Any]]:
    """The per-table group's results as a list. Outside a mapped task group, Airflow hands over the list of
    the instances' values, but the value itself when only one instance returned one (one table, or all
    tables but one failed), and None when none did."""
    if validated is None:
        return []
    if isinstance(validated, Mapping):
        return [dict(validated)]
    return [dict(v) for v in mapped_results(validated) if v]


def log_summary(planned: list[TablePlan] | None, results: list[TableRun],
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
    for entry in [table_row(r) for r in results] + [
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


def table_row(run: TableRun) -> dict[str, Any]:
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


def report_run(planned: list[TablePlan] | None, validated: list[TableRun],
           checks: Mapping[str, tuple[int, int]] | None = None) -> list[dict[str, Any]]:
    """Log the summary; raise if a planned table was not validated. Without a plan the run was refused or
    stopped before planning, which its failed task has reported: the summary fails only to keep the run
    red, without an alert of its own, so one refusal is one alert."""
    rows = log_summary(planned, validated, checks)
    if planned is None:
        raise AlreadyReported("no plan: the run stopped before planning (see the failed task above)")
    unfinished = [row["table"] for row in rows if not row["validated"]]
    if unfinished:
        raise IncompleteRunError(f"{len(unfinished)} of {len(rows)} tables did not complete: {', '.join(unfinished)}")
    return rows
