"""The DAG factory: ids, pools, setup/teardown wiring, params, and what a program's environment holds."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipelines.common.alerts import notify_task_failure
from pipelines.common.paths import INCLUDE_DIR_ENV
from pipelines.fileload_insight.config import load_settings
from pipelines.fileload_insight.errors import PartitionConfigError
from pipelines.fileload_insight.factory import build_dags
from pipelines.fileload_insight.operators import (
    PartitionCommandOperator,
    release_lock_of_failed_setup,
)
from pipelines.fileload_insight.programs import program_argv, program_environment
from tests.fixtures.fileload_insight.partitions import (
    include_with_partitions,
    load_partitions,
    partition_entry,
    partitions_document,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def config(tmp_path):
    return load_partitions(partitions_document({
        "a": partition_entry("a", "conn_a", "outcomes_a", tmp_path, [1, 2]),
        "walmart": partition_entry("walmart", "conn_w", "outcomes_w", tmp_path, [7]),
    }, tmp_path / "locks"))


def test_one_dag_per_program_and_partition(config):
    dags = build_dags(config)

    assert sorted(dags) == ["gr_insight__a", "gr_insight__walmart", "pup_fileload__a", "pup_fileload__walmart"]


def test_every_task_of_a_partition_runs_in_its_pool(config):
    dags = build_dags(config)

    for dag_id, dag in dags.items():
        partition = dag_id.split("__")[1]
        assert {task.pool for task in dag.tasks} == {f"partition_{partition}"}
        assert dag.max_active_runs == 1


def test_insight_steps_run_between_the_run_lock_setup_and_teardown(config):
    dag = build_dags(config)["gr_insight__a"]
    take, release = dag.get_task("take_run_lock"), dag.get_task("release_run_lock")

    assert [t.task_id for t in dag.topological_sort()] == [
        "take_run_lock", "insight_run_insight", "insight_push_policies", "release_run_lock"]
    assert take.is_setup
    assert take.deferrable  # waits in the triggerer, not as a reschedule-mode sensor (apache/airflow#71172)
    assert take.with_flag
    assert release.is_teardown
    assert release.with_flag
    assert release.trigger_rule == "all_done_setup_success"


def test_the_setup_alerts_and_releases_its_lock_when_it_fails_for_good(config):
    for dag in build_dags(config).values():
        take = dag.get_task("take_run_lock")
        assert take.on_failure_callback == [notify_task_failure, release_lock_of_failed_setup]


def test_fileload_gets_its_partition_lockfile_and_no_flag(config, tmp_path):
    dag = build_dags(config)["pup_fileload__walmart"]
    fileload = dag.get_task("fileload")

    assert isinstance(fileload, PartitionCommandOperator)
    assert fileload.lockfile == str(tmp_path / "locks" / "pup_fileload.walmart.lock")
    argv = program_argv(fileload.partition, fileload.command, fileload.lockfile)
    assert "--lockfile" in argv
    assert str(tmp_path / "locks" / "pup_fileload.walmart.lock") in argv
    assert not dag.get_task("take_run_lock").with_flag


def test_params_are_typed_and_documented(config):
    dag = build_dags(config)["gr_insight__a"]
    param = dag.params.get_param("force_unlock")

    assert param.value is False
    assert param.schema["type"] == "boolean"
    assert param.schema["title"]
    assert param.description


def test_schedules_come_from_the_config(config):
    dags = build_dags(load_settings(ROOT / "include" / "config" / "fileload_insight.yaml"))

    assert build_dags(config)["pup_fileload__a"].schedule is None
    assert dags["pup_fileload__a"].schedule == "0 1 * * *"
    assert dags["gr_insight__b"].schedule == "30 4 * * *"


def test_program_environment_carries_credentials_and_names(config):
    partition = config.partitions["a"]
    connection = SimpleNamespace(host="db-a.internal", port=1433, login="svc_fileload", password="p@ss")

    env = program_environment(partition, connection, dag_id="gr_insight__a", run_id="manual__1",
                              extra={"INSIGHT_HOME": "/opt/x"}, inherited={"PATH": "/usr/bin"})

    assert env == {
        "PATH": "/usr/bin", "INSIGHT_HOME": "/opt/x", "PARTITION": "a",
        "MEMBER_REPOSITORY_DB": "member_repository_a", "OUTCOMES_IDENTIFICATION_DB": "outcomes_a",
        "POLICY_IDS": "1,2", "DB_HOST": "db-a.internal", "DB_PORT": "1433", "DB_USER": "svc_fileload",
        "DB_PASSWORD": "p@ss", "PIPELINE_DAG_ID": "gr_insight__a", "PIPELINE_RUN_ID": "manual__1",
        "STORAGE_VOLUME": "vol_a",
    }


def test_credentials_never_reach_the_command_line(config):
    for dag in build_dags(config).values():
        for task in dag.tasks:
            if isinstance(task, PartitionCommandOperator):
                argv = " ".join(program_argv(task.partition, task.command, task.lockfile))
                assert "password" not in argv.lower()
                assert "DB_PASSWORD" not in argv


def test_the_dag_file_raises_one_clear_import_error(tmp_path, monkeypatch):
    bad = partitions_document({
        "a": partition_entry("a", "conn_a", "outcomes_a", tmp_path, [1]),
        "b": partition_entry("b", "conn_b", "outcomes_b", tmp_path, [1]),
    }, tmp_path)
    monkeypatch.setenv(INCLUDE_DIR_ENV, str(include_with_partitions(tmp_path, bad)))

    with pytest.raises(PartitionConfigError, match=r"^fileload_insight\.yaml: .*policy 1 is in partitions a and b"):
        runpy.run_path(str(ROOT / "dags" / "fileload_insight.py"))
