"""opendental_nightly's OpenLineage events through a real HTTP transport: one per table's task, whose
stages read the source (extract), the replica (load) and ``raw`` (transform) and write the replica, ``raw``
and ``public``, each output with its row count and columns; no row value travels."""

from __future__ import annotations

import pytest

from devtools.localdb import MARIADB_HOST, MARIADB_PORT, PG_HOST, PG_PORT
from tests.integration.opendental.odsupport import fixture_ddl, seed
from tests.support.statsd_sink import statsd_metrics

pytestmark = pytest.mark.integration
TABLES = ["patient", "definition"]
RUN = {"allow_business_hours": True, "parallel": 2, "force": False, "dry_run": False}
ROWS = 40


def test_every_stage_names_its_input_and_output_with_rows_and_columns(stack, nightly_dag, dag_runner,
                                                                      openlineage_events, monkeypatch):
    seed(stack.source, fixture_ddl(TABLES), rows=ROWS)

    with statsd_metrics(monkeypatch) as statsd:
        result = dag_runner(nightly_dag, {**RUN, "tables": TABLES})
        received = statsd.metrics()
    assert result.state == "success", result.task_states

    mysql, pg = f"mysql://{MARIADB_HOST}:{MARIADB_PORT}", f"postgres://{PG_HOST}:{PG_PORT}"
    expected = {
        "extract": ((mysql, f"{stack.source.name}.{{t}}"), (mysql, f"{stack.replica.name}.{{t}}")),
        "load": ((mysql, f"{stack.replica.name}.{{t}}"), (pg, f"{stack.analytics.name}.raw.{{t}}")),
        "transform": ((pg, f"{stack.analytics.name}.raw.{{t}}"), (pg, f"{stack.analytics.name}.public.{{t}}")),
    }
    events = openlineage_events.completed("opendental_nightly", "copy_table", len(TABLES))  # one per table
    for event in events:
        table = {out["name"].rsplit(".", 1)[-1] for out in event["outputs"]}.pop()
        inputs = {(inp["namespace"], inp["name"]) for inp in event["inputs"]}
        outputs = {(out["namespace"], out["name"], out["outputFacets"]["outputStatistics"]["rowCount"])
                   for out in event["outputs"]}
        assert inputs == {(ns, name.format(t=table)) for (ns, name), _ in expected.values()}, table
        assert outputs == {(ns, name.format(t=table), ROWS) for _, (ns, name) in expected.values()}, table
        assert all(out["facets"]["schema"]["fields"] for out in event["outputs"]), event["outputs"]
    assert {out["name"] for event in events for out in event["outputs"]} == {
        name.format(t=t) for t in TABLES for _, (_, name) in expected.values()}

    openlineage_events.assert_carries_none_of(
        row for t in TABLES for row in stack.mysql_rows(stack.source, f"SELECT * FROM `{t}`"))

    # The same run's figures, per table and stage (StatsD on a local UDP port).
    written = {(m.tags["table"], m.tags["stage"]): m.value for m in received
               if m.name == "airflow.pipelines.rows_written" and m.tags["family"] == "opendental"}
    assert written == {(t, stage): ROWS for t in TABLES for stage in expected}
    assert {m.tags.get("table") for m in received if m.name == "airflow.pipelines.lock_wait_seconds"} == set(TABLES)
