"""The opendental_nightly DAG end to end under dag.test(): real MariaDB source and replica, real
PostgreSQL analytics, fixture tables filled by the generator."""

from __future__ import annotations

import pytest

from tests.integration.opendental.odsupport import differences, fixture_ddl, seed

pytestmark = pytest.mark.integration
TABLES = ["patient", "procedurelog", "definition", "document", "preference"]
# Every param given on every run: dag.test() keeps a previous run's conf values in the DAG's params.
RUN = {"allow_business_hours": True, "parallel": 2, "force": False, "dry_run": False}


def test_full_run_copies_every_table_to_every_stage(stack, nightly_dag, dag_runner, slack_webhook):
    seed(stack.source, fixture_ddl(TABLES), rows=150)

    result = dag_runner(nightly_dag, {**RUN, "tables": TABLES})

    assert result.state == "success", result.task_states
    assert sorted(result.rendered_map_indexes[("copy_table", i)] for i in range(len(TABLES))) == sorted(TABLES)
    for table in TABLES:
        assert stack.counts(table) == {"source": 150, "replica": 150, "raw": 150, "public": 150}, table
        assert differences(stack, table) == []
    summary = result.xcom("opendental_nightly", "summary")
    assert {row["table"] for row in summary} == set(TABLES)
    assert all(row["validated"] for row in summary)
    assert slack_webhook.messages == []
