"""The one wrapper every per-table task body runs its stage in, and what it needs: the mapped instance's
label (also the Slack alert's ``Table`` field) and a one-line failure that names the table and the stage."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from pipelines.opendental.config import STAGES
from pipelines.opendental.errors import BusinessCheckFailed, RowCountMismatch, StageError
from pipelines.opendental.observability import declare_stage
from pipelines.opendental.slots import concurrency_slot
from pipelines.opendental.tablerun import TableRun

# The task logs name the logger as the line's source: it stays the one the tasks logged under before
# this module was split out of tasks.py, so operators' log searches keep finding the failure lines.
log = logging.getLogger("pipelines.opendental.tasks")
QUOTED = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"")


def table_stage(stage: str, table: str, work: Callable[[Mapping[str, Any]], TableRun]) -> dict[str, Any]:
    """Run one stage for one table, ``work`` given the task context: label the mapped instance, and for a
    copying stage (``STAGES``) take a concurrency slot and declare its datasets and figures before and
    after; validation only counts, so it takes no slot and moves no data. A failure names table and stage."""
    context = label_this_task(table)
    if stage not in STAGES:
        return run_stage(stage, table, lambda: work(context)).to_xcom()
    parallel = int(context["params"].get("parallel") or 1)
    declare_stage(stage, table)
    with concurrency_slot(parallel, table=table):
        result = run_stage(stage, table, lambda: work(context)).to_xcom()
    declare_stage(stage, table, result)
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
