"""A mapped partition of appxml_mapping whose database connection dies midway fails; run again for its
remainder, every application ends exactly once."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration
RUN = {"workers": 2, "batch": 5, "limit": 0, "remainders": None, "retry_failed": False}


def test_a_partition_killed_midway_and_run_again_maps_everything_exactly_once(mapping_db, mapping_dag, dag_runner,
                                                                               kill_switch, monkeypatch):
    # dag.test() would wait out the retry delay of a transient failure: this run gets no retries.
    monkeypatch.setattr(mapping_dag.get_task("map_partition"), "retries", 0)
    odd = sorted(app_id for app_id in mapping_db.products if app_id % 2 == 1)
    kill_switch(odd[12])

    failed = dag_runner(mapping_dag, RUN)

    assert failed.state == "failed", failed.task_states
    assert failed.states_of("map_partition") == {0: "success", 1: "failed"}
    assert mapping_db.scalar("SELECT COUNT(*) FROM migration.processing_log WHERE app_id %% 2 = 1") == 10
    kill_switch(None)

    rerun = dag_runner(mapping_dag, {**RUN, "remainders": [1]})

    assert rerun.state == "success", rerun.task_states
    assert rerun.rendered_map_indexes[("map_partition", 0)] == "rem=1/2"
    assert rerun.xcom("appxml_mapping", "summary")["processed"] == len(odd) - 10
    log = mapping_db.log()
    assert sorted(log) == sorted(mapping_db.products)
    assert all(entries == [("success", None)] for entries in log.values())
    assert mapping_db.scalar("SELECT COUNT(*) FROM migration.application") == mapping_db.documents
