"""A mapped partition of appxml_mapping whose database connection dies midway fails; run again for its
remainder, every application ends exactly once."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration
RUN = {"workers": 2, "batch": 5, "limit": 0, "remainders": None, "retry_failed": False}
KILL_SWITCH = """
CREATE TABLE public.kill_switch (app_id int PRIMARY KEY);
CREATE FUNCTION public.die_on_switch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM public.kill_switch WHERE app_id = NEW.app_id) THEN
    PERFORM pg_terminate_backend(pg_backend_pid());
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER die_on_switch BEFORE INSERT ON migration.app_base
  FOR EACH ROW EXECUTE FUNCTION public.die_on_switch();
"""


def test_a_partition_killed_midway_and_run_again_maps_everything_exactly_once(mapping_db, mapping_dag, dag_runner,
                                                                               monkeypatch):
    # dag.test() would wait out the retry delay of a transient failure: this run gets no retries.
    monkeypatch.setattr(mapping_dag.get_task("map_partition"), "retries", 0)
    odd = sorted(app_id for app_id in mapping_db.products if app_id % 2 == 1)
    with mapping_db.engine.begin() as conn:
        conn.exec_driver_sql(KILL_SWITCH)
        conn.exec_driver_sql("INSERT INTO public.kill_switch VALUES (%s)", (odd[12],))

    failed = dag_runner(mapping_dag, RUN)

    assert failed.state == "failed", failed.task_states
    assert failed.states_of("map_partition") == {0: "success", 1: "failed"}
    assert mapping_db.scalar("SELECT COUNT(*) FROM migration.processing_log WHERE app_id %% 2 = 1") == 10
    with mapping_db.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM public.kill_switch")

    rerun = dag_runner(mapping_dag, {**RUN, "remainders": [1]})

    assert rerun.state == "success", rerun.task_states
    assert rerun.rendered_map_indexes[("map_partition", 0)] == "rem=1/2"
    assert rerun.xcom("appxml_mapping", "summary")["processed"] == len(odd) - 10
    log = mapping_db.log()
    assert sorted(log) == sorted(mapping_db.products)
    assert all(entries == [("success", None)] for entries in log.values())
    assert mapping_db.scalar("SELECT COUNT(*) FROM migration.app_base") == mapping_db.documents
