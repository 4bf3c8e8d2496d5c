"""opendental_nightly's OpenLineage events through a real HTTP transport: per table, extract reads the
source and writes the replica, load writes ``raw``, transform writes ``public``, each output with its row
count and columns; no row value travels."""

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
    for stage, ((in_ns, in_name), (out_ns, out_name)) in expected.items():
        events = openlineage_events.completed("opendental_nightly", stage, len(TABLES))
        seen = {}
        for event in events:
            (inp,), (out,) = event["inputs"], event["outputs"]
            seen[out["name"]] = (inp["namespace"], inp["name"], out["namespace"],
                                 out["outputFacets"]["outputStatistics"]["rowCount"])
            assert out["facets"]["schema"]["fields"], out
        assert seen == {out_name.format(t=t): (in_ns, in_name.format(t=t), out_ns, ROWS) for t in TABLES}, stage

    openlineage_events.assert_carries_none_of(
        row for t in TABLES for row in stack.mysql_rows(stack.source, f"SELECT * FROM `{t}`"))

    # The same run's figures, per table and stage (StatsD on a local UDP port).
    written = {(m.tags["table"], m.tags["stage"]): m.value for m in received
               if m.name == "airflow.pipelines.rows_written" and m.tags["family"] == "opendental"}
    assert written == {(t, stage): ROWS for t in TABLES for stage in expected}
    assert {m.tags.get("table") for m in received if m.name == "airflow.pipelines.lock_wait_seconds"} == set(TABLES)
