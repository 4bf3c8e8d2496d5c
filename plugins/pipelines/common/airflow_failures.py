"""Failures that end a task at once and whose alert is sent once per run: the ``AirflowFailException``s
Airflow sees (family code raises the errors of ``errors`` instead; ``fail_without_retry`` turns them into these).

Two kinds of failure would otherwise alert more than once for one cause: a run refused (for its conf, its
run settings, business hours...), which each of a DAG's first tasks refuses, and a closing task (a summary
on ``all_done``) that must fail only to keep the run red after an earlier task failed and alerted. Both are
``AirflowFailException``s (no retries); the task alert callback asks ``needs_no_alert`` before posting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from pipelines.common.params import unknown_conf_keys


class Refused(AirflowFailException):
    """A task body raised a ``PermanentError`` (see ``errors.fail_without_retry``): never retried."""


class UnknownConfKeys(Refused):
    """A run's conf has keys its DAG does not declare: the run is refused, never retried."""


class AlreadyReported(AirflowFailException):
    """Fails a closing task so the run ends red; the failure that caused it has had its alert."""


def reject_unknown_conf(context: Mapping[str, Any]) -> None:
    """``pre_execute`` of every task (see ``defaults.default_args``): a run whose conf has a key the DAG does
    not declare fails in its first tasks, at once and without retries, before they do any work; the tasks
    after them never start."""
    dag_run, task = context.get("dag_run"), context.get("task")
    if dag_run is None or task is None or task.upstream_task_ids:
        return
    problem = unknown_conf_keys(getattr(dag_run, "conf", None), task.dag.params.keys())
    if problem:
        raise UnknownConfKeys(problem)


def needs_no_alert(context: Mapping[str, Any]) -> bool:
    """True when another alert already reports this failure: an ``AlreadyReported`` closing task, or a
    run refused by its first tasks, all but one of them (the first root task's first instance). A refusal
    further down (one partition's) is its own failure and alerts."""
    exception, task, ti = context.get("exception"), context.get("task"), context.get("ti")
    if isinstance(exception, AlreadyReported):
        return True
    if not isinstance(exception, Refused) or task is None or task.upstream_task_ids:
        return False
    first_root = min(root.task_id for root in task.dag.roots)
    return task.task_id != first_root or (getattr(ti, "map_index", -1) or 0) > 0
