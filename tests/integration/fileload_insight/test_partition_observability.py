"""A Fileload and an Insight run of one partition with the OpenLineage HTTP transport and StatsD pointed at
local sinks: Fileload writes the member repository database, each Insight step reads it and writes the
outcomes database; the run-lock wait and each step's duration arrive as figures; no credential travels."""

from __future__ import annotations

import json

import pytest

from devtools.localdb import PG_HOST, PG_PORT
from pipelines.fileload_insight.factory import build_dags
from tests.fixtures.fileload_insight.partitions import (
    INSIGHT_STEPS,
    load_partitions,
    partition_entry,
    partitions_document,
)
from tests.support.statsd_sink import statsd_metrics

pytestmark = pytest.mark.integration
PASSWORD = "test-only-password"


def test_partition_runs_name_their_databases_and_send_their_figures(tmp_path, database_factory, set_connection,
                                                                    dag_runner, openlineage_events, monkeypatch):
    outcomes = database_factory("postgres")
    set_connection("fli_ol_a", json.dumps({**json.loads(outcomes.airflow_conn()), "password": PASSWORD}))
    (tmp_path / "records").mkdir()
    dags = build_dags(load_partitions(partitions_document(
        {"a": partition_entry("a", "fli_ol_a", outcomes.name, tmp_path / "records", [1])}, tmp_path / "locks")))
    pg = f"postgres://{PG_HOST}:{PG_PORT}"
    member, outcome = (pg, "member_repository_a"), (pg, outcomes.name)

    with statsd_metrics(monkeypatch) as statsd:
        (fileload,) = openlineage_events.of_run(dag_runner, dags["pup_fileload__a"], {}, "fileload", 1)
        first, *others = (f"insight_{step}" for step in INSIGHT_STEPS)
        insight = [*openlineage_events.of_run(dag_runner, dags["gr_insight__a"], {}, first, 1),
                   *(openlineage_events.completed("gr_insight__a", task_id, 1)[0] for task_id in others)]
        received = statsd.metrics()

    names = openlineage_events.names
    assert (names(fileload["inputs"]), names(fileload["outputs"])) == (set(), {member})
    for event in insight:
        assert (names(event["inputs"]), names(event["outputs"])) == ({member}, {outcome})
    assert PASSWORD not in openlineage_events.text()
    figures = {(m.name, m.tags.get("stage")) for m in received if m.tags.get("partition") == "a"}
    assert ("airflow.pipelines.lock_wait_seconds", None) in figures
    assert {("airflow.pipelines.duration", step) for step in ("fileload", *INSIGHT_STEPS)} <= figures
