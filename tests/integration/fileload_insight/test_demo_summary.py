"""The ``make demo`` summary of Fileload and Insight: each DAG's row counts its own program's steps on its own
partition, never its siblings' (partition b's seeded stale flag shows on ``gr_insight__b`` only)."""

from __future__ import annotations

import pytest

from devtools.demo import DemoEnv
from devtools.fileload_insight.demo import DEMOS, PARTITIONS, main, seed

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path, database_factory):
    """The demo's environment on this test's own databases (the demo's are left alone)."""
    databases = {("postgres", f"fli_outcomes_{name}"): database_factory("postgres") for name in PARTITIONS}
    demo_env = DemoEnv(aws=None, work_dir=tmp_path, _databases=databases)
    seed(demo_env)
    return demo_env


def run_step(env, monkeypatch, dag_id: str, partition: str, step: str) -> None:
    """The demo's stand-in program, run as the DAG's task runs it (its run told through the environment)."""
    monkeypatch.setenv("PIPELINE_DAG_ID", dag_id)
    monkeypatch.setenv("PIPELINE_RUN_ID", f"manual__{dag_id}")
    monkeypatch.setenv("PARTITION", partition)
    assert main([step, "--record", str(env.work_dir / "fileload_insight_runs.jsonl")]) == 0


def test_each_dag_counts_its_own_partition_and_program(env, monkeypatch):
    run_step(env, monkeypatch, "pup_fileload__a", "a", "fileload")
    run_step(env, monkeypatch, "gr_insight__b", "b", "run_insight")
    run_step(env, monkeypatch, "gr_insight__b", "b", "push_policies")
    with env.database("postgres", "fli_outcomes_a").connect() as conn:  # a run of gr_insight__a still holds a
        conn.execute("INSERT INTO partition_run_lock VALUES ('a', 'gr_insight__a', 'manual__x', now())")

    summary = {spec.dag_id: dict(spec.counts(env)) for spec in DEMOS}

    assert summary == {
        "pup_fileload__a": {"steps_run": 1, "run_locks_held": 0},
        "gr_insight__a": {"steps_run": 0, "run_locks_held": 1, "lock_flags_set": 0},
        "pup_fileload__b": {"steps_run": 0, "run_locks_held": 0},
        "gr_insight__b": {"steps_run": 2, "run_locks_held": 0, "lock_flags_set": 1},  # the seeded stale flag
    }
