"""Slack failure alerts for tasks and DAG runs.

An alert carries ids and labels only (DAG, task, mapped label, run id, try, log URL, exception class and
its first line) and never row values or XML content, which can be PHI. Alerting must never change the
outcome of the task it reports on: a missing connection is one warning in the log (the alert text
included, so a local setup without Slack still shows it), an HTTP error is logged, neither raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.common.airflow_failures import needs_no_alert
from pipelines.common.errors import is_missing_connection

SLACK_CONN_ID = "slack_alerts"
MAX_ERROR_CHARS = 300

log = logging.getLogger(__name__)

DetailsFn = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def exception_summary(exc: BaseException | str | None) -> tuple[str, str]:
    """The exception's class name and the first line of its message, truncated."""
    if exc is None:
        return "", ""
    if isinstance(exc, str):
        name, message = "", exc
    else:
        name, message = type(exc).__name__, str(exc)
    first_line = message.strip().splitlines()[0] if message.strip() else ""
    if len(first_line) > MAX_ERROR_CHARS:
        first_line = first_line[: MAX_ERROR_CHARS - 1] + "…"
    return name, first_line


@dataclass(frozen=True)
class FailureAlert:
    """What a failure alert says; built from an Airflow callback context."""

    dag_id: str
    run_id: str
    task_id: str | None = None
    map_label: str | None = None
    try_number: int | None = None
    log_url: str | None = None
    error_class: str = ""
    error_line: str = ""
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        if self.task_id is None:
            # dagrun_timeout: the scheduler fails the run with reason "timed_out" and skips what is left.
            verb = "timed out" if self.reason == "timed_out" else "failed"
            return f"DAG run {verb}: {self.dag_id}"
        label = f" [{self.map_label}]" if self.map_label else ""
        return f"Task failed: {self.dag_id}.{self.task_id}{label}"

    def fields(self) -> dict[str, str]:
        """The labelled facts of the alert, in display order, empty ones left out."""
        error = ": ".join(part for part in (self.error_class, self.error_line) if part)
        facts = {
            "DAG": self.dag_id,
            "Task": self.task_id,
            "Mapped item": self.map_label,
            "Run": self.run_id,
            "Try": None if self.try_number is None else str(self.try_number),
            "Reason": self.reason,
            "Error": error or None,
            **{key: str(value) for key, value in self.details.items()},
            "Log": self.log_url,
        }
        return {key: value for key, value in facts.items() if value}

    def text(self) -> str:
        return self.title + "\n" + "\n".join(f"{key}: {value}" for key, value in self.fields().items())

    def payload(self) -> dict[str, Any]:
        """Slack incoming-webhook body: plain text fallback plus a Block Kit layout."""
        fields = [{"type": "mrkdwn", "text": f"*{key}*\n{value}"} for key, value in self.fields().items()]
        blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": self.title}}]
        # Slack allows at most 10 fields per section block.
        blocks += [{"type": "section", "fields": fields[i : i + 10]} for i in range(0, len(fields), 10)]
        return {"text": self.text(), "blocks": blocks}


def _map_label(ti: Any) -> str | None:
    map_index = getattr(ti, "map_index", -1)
    if map_index is None or map_index < 0:
        return None
    return getattr(ti, "rendered_map_index", None) or f"map_index={map_index}"


def alert_from_task_context(context: Mapping[str, Any], details: Mapping[str, Any] | None = None) -> FailureAlert:
    ti = context["ti"]
    error_class, error_line = exception_summary(context.get("exception"))
    return FailureAlert(
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        task_id=ti.task_id,
        map_label=_map_label(ti),
        try_number=getattr(ti, "try_number", None),
        log_url=getattr(ti, "log_url", None),
        error_class=error_class,
        error_line=error_line,
        details=details or {},
    )


def alert_from_dag_context(context: Mapping[str, Any]) -> FailureAlert:
    ti = context.get("ti")
    dag = context.get("dag")
    return FailureAlert(
        dag_id=getattr(dag, "dag_id", None) or getattr(ti, "dag_id", "?"),
        run_id=context.get("run_id") or getattr(ti, "run_id", "?"),
        reason=context.get("reason"),
        details={"Last task": ti.task_id + (f" [{_map_label(ti)}]" if _map_label(ti) else "")} if ti else {},
        log_url=getattr(ti, "log_url", None) if ti else None,
    )


def post_alert(alert: FailureAlert, conn_id: str = SLACK_CONN_ID) -> bool:
    """Post to the Slack incoming webhook; True when Slack accepted it. Never raises."""
    try:
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        SlackWebhookHook(slack_webhook_conn_id=conn_id).send_dict(alert.payload())
    except Exception as exc:  # alerting must never fail or retry the task it reports on
        if is_missing_connection(exc):
            log.warning("Slack connection %r is not configured; alert not sent:\n%s", conn_id, alert.text())
        else:
            error_class, error_line = exception_summary(exc)
            log.error("Slack alert for %s could not be posted: %s: %s", alert.dag_id, error_class, error_line)
        return False
    log.info("Slack alert posted: %s", alert.title)
    return True


def task_failure_alert(details: DetailsFn | None = None) -> Callable[[Mapping[str, Any]], None]:
    """A task ``on_failure_callback``; ``details(context)`` may add ids (a job run id, a log group)."""

    def notify(context: Mapping[str, Any]) -> None:
        if needs_no_alert(context):
            log.info("This failure is reported by another alert of the run; no second alert")
            return
        extra: Mapping[str, Any] = {}
        if details is not None:
            try:
                extra = details(context)
            except Exception as exc:  # a broken details hook still lets the base alert through
                log.warning("Alert details unavailable: %s", type(exc).__name__)
        post_alert(alert_from_task_context(context, extra))

    notify.__name__ = "slack_task_failure_alert"
    return notify


#: Task-level ``on_failure_callback`` posting to the ``slack_alerts`` webhook.
notify_task_failure = task_failure_alert()


def notify_dag_failure(context: Mapping[str, Any]) -> None:
    """DAG-level ``on_failure_callback`` posting to the ``slack_alerts`` webhook, for the failures no task
    alert reported (a deadlock, a run timeout). A run that failed because a task failed already had that
    task's alert: one failure, one alert."""
    if covered_by_task_alert(context):
        ti = context["ti"]
        log.info("DAG run %s failed on task %s, whose alert was sent; no second alert", ti.run_id, ti.task_id)
        return
    post_alert(alert_from_dag_context(context))


def covered_by_task_alert(context: Mapping[str, Any]) -> bool:
    """True when the run failed because of a failed task instance (which posts its own alert)."""
    ti = context.get("ti")
    return context.get("reason") == "task_failure" and ti is not None and bool(getattr(ti, "task_id", None))
