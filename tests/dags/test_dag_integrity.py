"""Every DAG in dags/ imports cleanly, offline and fast, uses only known pools, and follows the
house conventions (owner, tags, doc_md, retries, failure alerts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.common.paths import pools_file
from tests.dags.integrity import check_dag_folder, known_pools
from tests.support.airflow_env import DAGS_FOLDER


@pytest.fixture(scope="module")
def report():
    return check_dag_folder(DAGS_FOLDER, known_pools(pools_file()))


def test_dag_folder_has_no_problems(report):
    assert report.problems() == []


def test_every_dag_file_defines_a_dag(report):
    files_with_dags = {Path(dag.fileloc).name for dag in report.dags.values()}
    dag_files = {path.name for path in DAGS_FOLDER.glob("*.py") if not path.name.startswith("_")}
    assert dag_files <= files_with_dags


def test_pools_file_is_valid_for_airflow_pools_import():
    import json

    pools = json.loads(pools_file().read_text())
    assert isinstance(pools, dict)
    for name, spec in pools.items():
        assert {"slots", "description"} <= spec.keys(), name
        assert isinstance(spec["slots"], int), name
        assert spec["slots"] >= 1, name


def test_every_scheduled_dag_has_a_run_timeout_and_a_slack_deadline(report):
    """A hung night times out and a late one is announced: both limits come from include/config/deadlines.yaml."""
    from pipelines.common.deadlines import post_deadline_miss

    scheduled = {dag_id: dag for dag_id, dag in report.dags.items() if dag.timetable.can_be_scheduled}
    assert scheduled, "no scheduled DAG found"
    for dag_id, dag in scheduled.items():
        assert dag.dagrun_timeout is not None, dag_id
        assert dag.dagrun_timeout.total_seconds() > 0, dag_id
        deadlines = dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]
        paths = [alert.callback.path for alert in deadlines if alert is not None]
        assert paths == [f"{post_deadline_miss.__module__}.{post_deadline_miss.__qualname__}"], (dag_id, paths)


def test_opendental_is_late_when_its_business_hours_gate_opens(report):
    """Slot 01:00 Chicago, gate 06:00 Chicago: the deadline is five hours after the slot (its logical date)."""
    from datetime import timedelta

    alert = report.dags["opendental_nightly"].deadline
    alert = alert[0] if isinstance(alert, list) else alert
    assert type(alert.reference).__name__ == "DagRunLogicalDateDeadline"
    assert alert.interval == timedelta(hours=5)
