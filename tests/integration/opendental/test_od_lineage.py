"""opendental_nightly's OpenLineage events through a real HTTP transport: per table, extract reads the
source and writes the replica, load writes ``raw``, transform writes ``public``, each output with its row
count and columns; no row value travels."""

from __future__ import annotations

import pytest

from devtools.localdb import MARIADB_HOST, MARIADB_PORT, PG_HOST, PG_PORT
from tests.integration.opendental.odsupport import fixture_ddl, seed

pytestmark = pytest.mark.integration
TABLES = ["patient", "definition"]
RUN = {"allow_business_hours": True, "parallel": 2, "force": False, "dry_run": False}
ROWS = 40


def test_every_stage_names_its_input_and_output_with_rows_and_columns(stack, nightly_dag, dag_runner,
                                                                      openlineage_events):
    seed(stack.source, fixture_ddl(TABLES), rows=ROWS)

    result = dag_runner(nightly_dag, {**RUN, "tables": TABLES})
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
