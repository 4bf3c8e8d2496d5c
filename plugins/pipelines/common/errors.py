"""One error policy for every family: what family code raises (no Airflow import at module level; the
``AirflowFailException``s a task then ends with are in ``airflow_failures``).

A ``PermanentError`` is a failure that no retry can fix: bad params or conf, bad configuration, a missing
connection, a source that refuses the run, business hours. Each family subclasses it; a task body decorated
with ``@fail_without_retry`` turns it into ``airflow_failures.Refused``, an ``AirflowFailException`` (the task fails
at once, one alert, no retries, the message as its one line), while every other exception keeps the task's
retries.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class PermanentError(Exception):
    """A failure that retrying cannot fix; its message is one line that names what to change."""


class MissingConnectionError(PermanentError):
    """An Airflow connection the task needs is not defined."""

    def __init__(self, conn_id: str) -> None:
        super().__init__(f"connection {conn_id!r} is not defined")
        self.conn_id = conn_id


def fail_without_retry(func: F) -> F:
    """Run a task body; a ``PermanentError`` fails the task at once, without retries or a traceback."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PermanentError as exc:
            from pipelines.common.airflow_failures import Refused  # imports Airflow: only where a task runs

            raise Refused(str(exc)) from None

    return run  # type: ignore[return-value]


def is_missing_connection(exc: BaseException) -> bool:
    """True when ``exc`` says an Airflow connection is not defined.

    The SDK raises ``AirflowNotFoundException`` in a task and ``ConnectionNotFound`` elsewhere, and older
    hooks only say "isn't defined": matched by name and text so no import ties us to one of them.
    """
    return isinstance(exc, MissingConnectionError) or "NotFound" in type(exc).__name__ or "isn't defined" in str(exc)


def require_connection(conn_id: str) -> None:
    """Raise ``MissingConnectionError`` when ``conn_id`` is not defined, before anything is written."""
    from airflow.sdk import BaseHook

    try:
        BaseHook.get_connection(conn_id)
    except Exception as exc:
        if is_missing_connection(exc):
            raise MissingConnectionError(conn_id) from None
        raise
