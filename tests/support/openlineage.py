"""OpenLineage events caught by a real HTTP transport: the provider's listener, configured through
``AIRFLOW__OPENLINEAGE__TRANSPORT`` like a deployment, posts every event to a local HTTP sink (the Slack
tests' sink: it records every JSON POST).

The provider reads its configuration once per process (cached) and registers its listener when Airflow
loads plugins, which happened already in this pytest process with no transport (so disabled). A capture
therefore clears the provider's cached configuration and registers a fresh listener with the task SDK's
listener manager for its duration; a worker would have both from its configuration at start-up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.services import SlackSink, start_slack_sink


def clear_provider_config() -> None:
    from airflow.providers.openlineage import conf

    for value in vars(conf).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


def xml_snippets(documents: Iterable[str]) -> list[str]:
    """40 characters from the middle of each document of 100 or more: text only the XML itself has."""
    return [doc[len(doc) // 2:len(doc) // 2 + 40] for doc in documents if len(doc) >= 100]


@dataclass
class LineageEvents:
    sink: SlackSink

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for e in self.sink.messages if "eventType" in e]

    def of_task(self, dag_id: str, task_id: str, event_type: str = "COMPLETE") -> list[dict[str, Any]]:
        """The task's events (``task_id`` without its task group) of one type."""
        return [e for e in self.events if e["eventType"] == event_type and e["job"]["name"].startswith(f"{dag_id}.")
                and e["job"]["name"].rsplit(".", 1)[-1] == task_id]

    def completed(self, dag_id: str, task_id: str, count: int) -> list[dict[str, Any]]:
        """The ``count`` COMPLETE events of a task (its mapped instances')."""
        events = self.of_task(dag_id, task_id)
        assert len(events) == count, (task_id, [e["job"]["name"] for e in self.events])
        return events

    def of_run(self, dag_runner: Any, dag: Any, conf: dict[str, Any], task_id: str, count: int
               ) -> list[dict[str, Any]]:
        """Run ``dag`` (it must succeed) and return the COMPLETE events of its ``count`` ``task_id`` instances."""
        result = dag_runner(dag, conf)
        assert result.state == "success", result.task_states
        return self.completed(dag.dag_id, task_id, count)

    def text(self) -> str:
        return json.dumps(self.sink.messages)

    def assert_carries_none_of(self, rows: Iterable[Iterable[Any]]) -> None:
        """No text value of ``rows`` (one with 3 letters in a row and 6 characters or more: only data has
        them) appears in any event."""
        values = {str(v) for row in rows for v in row if isinstance(v, str) and len(v) >= 6
                  and re.search(r"[A-Za-z]{3}", v)}
        assert values, "the data has text values to look for"
        text = self.text()
        assert not [v for v in values if v in text]

    @staticmethod
    def names(datasets: list[dict[str, Any]]) -> set[tuple[str, str]]:
        return {(d["namespace"], d["name"]) for d in datasets}

    @staticmethod
    def row_counts(datasets: list[dict[str, Any]]) -> dict[str, int]:
        return {d["name"]: d["outputFacets"]["outputStatistics"]["rowCount"] for d in datasets
                if "outputStatistics" in d.get("outputFacets", {})}


@contextmanager
def capture_openlineage(monkeypatch: pytest.MonkeyPatch) -> Iterator[LineageEvents]:
    from airflow.providers.openlineage.plugins.listener import OpenLineageListener
    from airflow.sdk.listener import get_listener_manager

    # Plugins first (their listeners are fixed when Airflow loads them: none, OpenLineage being disabled),
    # so that the listener added below is the only one.
    manager = get_listener_manager()
    sink = start_slack_sink()
    host, port = sink.server.server_address[:2]
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__TRANSPORT",
                       json.dumps({"type": "http", "url": f"http://{host}:{port}", "endpoint": "api/v1/lineage"}))
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__NAMESPACE", "pipelines-test")
    monkeypatch.setenv("AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD", "True")
    clear_provider_config()
    listener = OpenLineageListener()
    assert not any(isinstance(p, OpenLineageListener) for p in manager.pm.get_plugins()), "one listener only"
    manager.add_listener(listener)
    try:
        yield LineageEvents(sink)
    finally:
        manager.pm.unregister(listener)
        monkeypatch.delenv("AIRFLOW__OPENLINEAGE__TRANSPORT")
        clear_provider_config()
        sink.server.shutdown()
        sink.server.server_close()
