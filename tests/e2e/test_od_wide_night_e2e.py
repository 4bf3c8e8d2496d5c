"""A wide ``opendental_nightly`` under a real scheduler: generated OpenDental tables (a few of the shared DDL
and generated ones in all three load strategies' shapes), one manual run with one ``copy_table`` instance per
table, the project's executor settings and pools.

The scaled-down version of ``make bench-scheduler`` (446 tables in about 6 minutes, see BENCHMARKS.md). It
proves that a night of 120 tables finishes and is right (every table's task succeeded and is labelled with
its table, ran every stage, every stage holds the source's rows, the summary validated every table), not
how fast: how fast is the benchmark's job (here: 96 s in all, the run 76 s, at load 3-5 on two cores).
"""

from __future__ import annotations

from collections import Counter

import pytest

from pipelines.opendental.config import STAGES
from tests.support.wide_night import DAG_ID, WideNight, wide_night

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
TABLES, SHARED, ROWS, PARALLEL = 120, 12, 5, 8
TABLE_TASK = "copy_table"
# 124 task instances: about 100 s on a two-core machine (446 tables took 350 s); room for a loaded one.
RUN_BUDGET_SECONDS = 1200


@pytest.fixture(scope="module")
def night(tmp_path_factory) -> WideNight:
    # One retry at once: on a starved machine a task's start call to the api-server can time out (seen: the
    # executor reports the instance failed while it is still queued); it runs again at once, not in 5 minutes.
    config = {"stages": {"retries": 1, "retry_delay_minutes": 0}}
    with wide_night(tmp_path_factory.mktemp("od_wide"), TABLES, ROWS, most_shared=SHARED, config=config) as wide:
        yield wide


def assert_every_table_ran_once(night: WideNight, run_id: str, planned: list[str]) -> None:
    instances = night.cluster.task_instances(DAG_ID, run_id)
    mapped = [ti for ti in instances if ti["task_id"] == TABLE_TASK]
    assert sorted(ti["rendered_map_index"] for ti in mapped) == sorted(planned)
    assert Counter(ti["state"] for ti in mapped) == {"success": len(planned)}
    others = {ti["task_id"]: ti["state"] for ti in instances if ti["task_id"] != TABLE_TASK}
    assert others == dict.fromkeys(("business_hours_gate", "test_connections", "plan", "summary"), "success")


def assert_every_stage_holds_the_source_rows(night: WideNight, run_id: str, planned: list[str]) -> None:
    recorded = night.stack.mysql_rows(night.stack.replica, "SELECT table_name, ok, source_rows, replica_rows, "
                                      "raw_rows, public_rows FROM etl_run_validation WHERE run_id = %s", [run_id])
    assert sorted(recorded) == sorted((table, 1, *[night.source_rows[table]] * 4) for table in planned)
    for table in planned:  # counted again here, from outside the pipeline
        assert night.stack.counts(table) == dict.fromkeys(("source", "replica", "raw", "public"),
                                                          night.source_rows[table]), table


def test_a_wide_night_copies_every_table_through_the_scheduler(night):
    run_id = night.trigger(PARALLEL)

    states = night.cluster.wait_for_runs([(DAG_ID, run_id)], timeout=RUN_BUDGET_SECONDS)

    assert states == {(DAG_ID, run_id): "success"}
    plan = night.cluster.xcom(DAG_ID, run_id, "plan")
    planned = [entry["table"] for entry in plan]
    assert len(planned) == TABLES
    assert set(planned) <= set(night.source_rows)
    assert Counter(entry["strategy"] for entry in plan).keys() == {"incremental", "append_only", "full"}
    assert_every_table_ran_once(night, run_id, planned)
    assert_every_stage_holds_the_source_rows(night, run_id, planned)
    summary = night.cluster.xcom(DAG_ID, run_id, "summary")
    assert sorted(row["table"] for row in summary) == sorted(planned)
    assert all(row["validated"] and row["mode"] == "full" for row in summary)  # a first night copies in full
    assert all(set(row["stages"]) == set(STAGES) for row in summary)  # each table's task ran every stage
