"""Run limits of the scheduled DAGs: a ``dagrun_timeout`` and an Airflow Deadline Alert, both from
``include/config/deadlines.yaml``.

A missed deadline does not stop the run: the triggerer awaits ``post_deadline_miss``, which posts one Slack
message through the project's alert path (ids only: DAG, run, deadline). A run that then succeeds posts
nothing more (Airflow prunes its deadlines); one that times out posts the run alert with reason ``timed_out``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from pipelines.common.alerts import SLACK_CONN_ID, FailureAlert, post_alert
from pipelines.common.config import ConfigError, StrictModel, load_config

CONFIG_FILE = "deadlines.yaml"
#: ``off`` leaves the Deadline Alerts out (the timeouts stay), for ``airflow dags test``: on Airflow 3.3.2 a
#: successful ``dag.test()`` run of a DAG with a deadline crashes as it ends (its in-memory DAG holds the alert
#: definitions where the scheduler expects their database ids: DeadlineAlert.get_by_id gets a dict).
DEADLINE_ALERTS_ENV = "PIPELINES_DEADLINE_ALERTS"
log = logging.getLogger(__name__)
Family = Literal["opendental_nightly", "appxml_staging", "appxml_mapping", "flywheel", "partitions"]


class RunLimit(StrictModel):
    dagrun_timeout_minutes: float = Field(gt=0)
    done_by: time | None = None
    deadline_minutes: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def one_kind_of_deadline(self) -> RunLimit:
        if self.done_by is not None and self.deadline_minutes is not None:
            raise ValueError("set done_by or deadline_minutes, not both")
        return self


class RunLimits(StrictModel):
    opendental_nightly: RunLimit
    appxml_staging: RunLimit
    appxml_mapping: RunLimit
    flywheel: RunLimit
    partitions: RunLimit


def load_run_limits() -> RunLimits:
    return load_config(RunLimits, CONFIG_FILE)


def cron_start(cron: str) -> time:
    """The time of day of a daily cron expression (``30 1 * * *`` -> 01:30)."""
    minute, hour, *_ = cron.split()
    if not (minute.isdigit() and hour.isdigit()):
        raise ConfigError(f"{CONFIG_FILE}: done_by needs a schedule at one fixed time of day, not {cron!r}")
    return time(int(hour), int(minute))


def minutes_after(start: time, end: time) -> timedelta:
    """From ``start`` to the next ``end`` on the clock (past midnight when ``end`` is earlier)."""
    span = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    return timedelta(minutes=span if span > 0 else span + 24 * 60)


def run_limits(family: Family, *, cron: str | None = None, done_by: time | None = None) -> dict[str, Any]:
    """DAG keyword arguments ``dagrun_timeout`` and ``deadline`` for one family's DAG, from deadlines.yaml.

    ``cron`` is the DAG's daily schedule (needed for a ``done_by`` deadline); ``done_by`` overrides the
    configured one (OpenDental: its business-hours gate)."""
    limits = limit_kwargs(getattr(load_run_limits(), family), family, cron=cron, done_by=done_by)
    if os.environ.get(DEADLINE_ALERTS_ENV, "").strip().lower() == "off":
        limits.pop("deadline", None)
    return limits


def limit_kwargs(limit: RunLimit, name: str, *, cron: str | None = None,
                 done_by: time | None = None) -> dict[str, Any]:
    """``dagrun_timeout`` and a Deadline Alert whose callback is ``post_deadline_miss``."""
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    done_by = done_by or limit.done_by
    if done_by is not None:
        if cron is None:
            raise ConfigError(f"{CONFIG_FILE}: {name}.done_by needs a cron schedule; use deadline_minutes")
        reference, interval = DeadlineReference.DAGRUN_LOGICAL_DATE, minutes_after(cron_start(cron), done_by)
    elif limit.deadline_minutes is not None:
        reference, interval = DeadlineReference.DAGRUN_QUEUED_AT, timedelta(minutes=limit.deadline_minutes)
    else:  # a run timeout only (see deadlines.yaml: why no family counts a deadline from its queue time)
        return {"dagrun_timeout": timedelta(minutes=limit.dagrun_timeout_minutes)}
    return {
        "dagrun_timeout": timedelta(minutes=limit.dagrun_timeout_minutes),
        "deadline": DeadlineAlert(reference=reference, interval=interval, name=f"{name}_late",
                                  callback=AsyncCallback(post_deadline_miss)),
    }


@dataclass(frozen=True)
class DeadlineMissAlert(FailureAlert):
    @property
    def title(self) -> str:
        return f"DAG run late: {self.dag_id}"


def alert_from_deadline_context(context: dict[str, Any]) -> DeadlineMissAlert:
    """Built from the context the scheduler hands a deadline callback: the run (REST shape) and the deadline."""
    run = context.get("dag_run") or {}
    deadline = (context.get("deadline") or {}).get("deadline_time")
    if isinstance(deadline, datetime):
        deadline = deadline.isoformat(timespec="seconds")
    return DeadlineMissAlert(dag_id=run.get("dag_id", "?"), run_id=run.get("dag_run_id", "?"),
                             details={"Deadline": deadline or "?", "State": run.get("state") or "?"})


async def post_deadline_miss(context: dict[str, Any] | None = None, conn_id: str = SLACK_CONN_ID) -> None:
    """Deadline Alert callback (awaited in the triggerer): one Slack message; never raises.

    Airflow drops a run's deadlines when it succeeds, not when it fails: a run that already failed (a task,
    a timeout) had its alert, so its deadline passing later says nothing new."""
    alert = alert_from_deadline_context(context or {})
    if alert.details.get("State") == "failed":
        log.info("DAG run %s of %s already failed and alerted; its deadline passing posts nothing",
                 alert.run_id, alert.dag_id)
        return
    # The webhook hook is synchronous: a thread keeps the triggerer's event loop free.
    await asyncio.to_thread(post_alert, alert, conn_id)
