"""The shape of the Flywheel DAGs: independent steps have no path between them (so they run in
parallel), the critical path from the runbook's step durations beats running the steps one after the
other, and every task carries what operations needs (deferrable Glue, alerts, labels, limits)."""

from __future__ import annotations

from functools import cache

import pytest

from pipelines.flywheel.assets import PART_TABLES
from pipelines.flywheel.operators import FlywheelGlueJobOperator, SnapshotPrefixSensor, flywheel_failure_alert

# Runbook "Expected Runtime", upper bounds in minutes. The partitioned steps have no figures there; the
# split/register ones are taken as the bucketed pipeline's (same data, same kind of job).
RUNBOOK_MINUTES = {
    "infobase_split_and_bucket": 20,
    "addressable_bucket": 10,
    "register_infobase": 3,
    "register_addressable": 3,
    "create_athena_bucketed_tables": 25,
}


@cache
def dags():
    from tests.support.airflow_env import load_dags

    return load_dags()


def dag(dag_id):
    return dags()[dag_id]


def has_path(a_dag, source: str, target: str) -> bool:
    return target in a_dag.get_task(source).get_flat_relative_ids(upstream=False)


def critical_path_minutes(a_dag, minutes: dict[str, int]) -> int:
    """Longest path through the DAG, each task weighing its runbook duration (others weigh 0)."""
    finish: dict[str, int] = {}
    for task in a_dag.topological_sort():
        start = max((finish[up] for up in task.upstream_task_ids), default=0)
        finish[task.task_id] = start + minutes.get(task.task_id, 0)
    return max(finish.values())


@pytest.mark.parametrize(
    ("dag_id", "a", "b"),
    [
        ("flywheel_bucketed", "infobase_split_and_bucket", "addressable_bucket"),
        ("flywheel_bucketed", "register_infobase", "register_addressable"),
        ("flywheel_bucketed", "infobase_split_and_bucket", "register_addressable"),
        ("flywheel_bucketed", "addressable_bucket", "register_infobase"),
        ("flywheel_partitioned", "infobase_split_and_part", "addressable_split_and_part"),
        ("flywheel_partitioned", "list_part_tables", "prepare_part_tables"),
    ],
)
def test_independent_steps_have_no_path_between_them(dag_id, a, b):
    assert not has_path(dag(dag_id), a, b)
    assert not has_path(dag(dag_id), b, a)


@pytest.mark.parametrize(
    ("dag_id", "before", "after"),
    [
        ("flywheel_bucketed", "infobase_split_and_bucket", "register_infobase"),
        ("flywheel_bucketed", "addressable_bucket", "register_addressable"),
        ("flywheel_bucketed", "register_infobase", "create_athena_bucketed_tables"),
        ("flywheel_bucketed", "register_addressable", "create_athena_bucketed_tables"),
        ("flywheel_partitioned", "infobase_split_and_part", "register_part_tables"),
        ("flywheel_partitioned", "addressable_split_and_part", "register_part_tables"),
        ("flywheel_partitioned", "register_part_tables", "list_part_tables"),
        ("flywheel_partitioned", "register_part_tables", "prepare_part_tables"),
        ("flywheel_partitioned", "msck_repair", "publish_part_tables"),
        ("flywheel_partitioned", "prepare_part_tables", "publish_part_tables"),
    ],
)
def test_dependent_steps_wait_for_their_inputs(dag_id, before, after):
    assert has_path(dag(dag_id), before, after)


def test_critical_path_is_shorter_than_the_sequential_runbook():
    bucketed = dag("flywheel_bucketed")
    sequential = sum(RUNBOOK_MINUTES.values())

    critical = critical_path_minutes(bucketed, RUNBOOK_MINUTES)

    assert sequential == 61
    assert critical == 48  # max(20 + 3, 10 + 3) + 25
    assert critical < sequential


def test_every_glue_step_is_deferrable_verbose_reattaching_and_alerting():
    glue_tasks = [t for d in dags().values() if d.dag_id.startswith("flywheel_") for t in d.tasks
                  if isinstance(t, FlywheelGlueJobOperator)]

    assert len(glue_tasks) == 10
    for task in glue_tasks:
        assert task.deferrable
        assert task.wait_for_completion
        assert task.verbose
        assert task.stop_job_run_on_kill
        assert not task.durable  # no --airflow_task_uuid argument; reattaching is ours
        assert task.aws_conn_id == "aws_flywheel"
        assert task.on_failure_callback in ([flywheel_failure_alert], flywheel_failure_alert)


def test_snapshot_sensors_are_deferrable_and_splits_run_when_they_are_skipped():
    for dag_id in ("flywheel_bucketed", "flywheel_partitioned"):
        sensors = [t for t in dag(dag_id).tasks if isinstance(t, SnapshotPrefixSensor)]
        assert len(sensors) == 2
        for sensor in sensors:
            assert sensor.deferrable
            assert sensor.wildcard_match
            (split,) = sensor.downstream_list
            assert split.trigger_rule == "none_failed"


def test_msck_fan_out_is_labelled_and_limited():
    msck = dag("flywheel_partitioned").get_task("msck_repair")

    assert msck.max_active_tis_per_dagrun == 5
    assert "task.query" in msck.map_index_template
    assert msck.partial_kwargs["aws_conn_id"] == "aws_flywheel"


def test_reports_run_on_the_partitioned_asset_and_partitioned_emits_it():
    publish = dag("flywheel_partitioned").get_task("publish_part_tables")

    assert PART_TABLES in publish.outlets
    assert dag("flywheel_reports").timetable.asset_condition.objects == (PART_TABLES,)


def test_dated_pipelines_run_daily_and_document_it():
    for dag_id in ("flywheel_bucketed", "flywheel_partitioned"):
        a_dag = dag(dag_id)
        assert a_dag.schedule == "@daily"
        assert "backfill" in a_dag.doc_md
        assert "--SNAPSHOT_DT" in a_dag.doc_md
        for name in ("snapshot_dt", "tables_filter"):
            param = a_dag.params.get_param(name)
            assert param.schema.get("title"), name
            assert param.description, name
