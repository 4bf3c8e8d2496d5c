"""How one table's night runs in its one mapped task: its stages in order, resumable, and what they need:
the mapped instance's label (also the Slack alert's ``Table`` field) and a one-line failure that names the
table and the stage."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pipelines.common.mapped import label_mapped_instance, mapped_label
from pipelines.opendental.config import STAGES
from pipelines.opendental.connections import DEFAULT_IDS, mysql
from pipelines.opendental.errors import BusinessCheckFailed, RowCountMismatch, StageError
from pipelines.opendental.observability import declare_table, stage_figures
from pipelines.opendental.plan import TablePlan
from pipelines.opendental.resume import finished_stages, forget_stages, mark_finished
from pipelines.opendental.slots import concurrency_slot
from pipelines.opendental.tablerun import TableRun

# The task logs name the logger as the line's source: it stays the one the tasks logged under before
# this module was split out of tasks.py, so operators' log searches keep finding the failure lines.
log = logging.getLogger("pipelines.opendental.tasks")
QUOTED = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"")


# One step of a table's night: given the plan, the run record so far (None before extract) and the task
# context, it returns the record with its own stage added.
Step = Callable[[TablePlan, "TableRun | None", Mapping[str, Any]], TableRun]


def run_table(plan: TablePlan, steps: Sequence[tuple[str, Step]]) -> dict[str, Any]:
    """Run one table's stages in order in one task, holding one of the run's concurrency slots throughout.

    Each finished stage is recorded on the replica, so a retry or a cleared instance resumes at the stage
    that failed; once the last stage has finished the record goes and a later clear starts from extract.
    The task declares every copying stage's datasets (OpenLineage) with the rows of the stages that
    finished, on success and failure alike, and each copying stage's figures (metrics); a failure names the
    table and the stage."""
    context = label_mapped_instance(plan.table)
    run_id = context["run_id"]
    parallel = int(context["params"].get("parallel") or 1)
    declare_table(plan.table)
    run: TableRun | None = None
    try:
        # One replica session keeps the records for the whole table (the slot's lock holds its own).
        with concurrency_slot(parallel, table=plan.table), mysql(DEFAULT_IDS.replica) as replica:
            finished = finished_stages(replica, run_id, plan.table)
            for stage, step in steps:
                if stage in finished:
                    run = finished[stage]
                    log.info("%s of table %s: finished earlier in this run, not repeated", stage, plan.table)
                    continue
                run = _stage(stage, plan, run, step, context)
                mark_finished(replica, run_id, stage, run)
            forget_stages(replica, run_id, plan.table)
    finally:
        declare_table(plan.table, None if run is None else run.to_xcom())
    if run is None:
        raise ValueError("a table's night needs at least one step")
    return run.to_xcom()


def _stage(stage: str, plan: TablePlan, run: TableRun | None, step: Step, context: Mapping[str, Any]) -> TableRun:
    result = run_stage(stage, plan.table, lambda: step(plan, run, context))
    if stage in STAGES:
        stage_figures(result.to_xcom(), stage)
    return result


def run_stage(stage: str, table: str, work: Callable[[], TableRun]) -> TableRun:
    """Run ``work``; a failure names the table and the stage (its first line is what the Slack alert shows)."""
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


def scrub(message: str) -> str:
    """An error's first line with every quoted literal masked: database errors quote row values
    (``Duplicate entry 'Smith' for key``), which must not reach logs or alerts."""
    first = (message.strip().splitlines() or [""])[0]
    return QUOTED.sub("'…'", first)[:300]


def alert_details(context: Mapping[str, Any]) -> Mapping[str, Any]:
    """Extra Slack alert fields for a per-table task: the table's name."""
    table = mapped_label(context)
    return {"Table": table} if table else {}
