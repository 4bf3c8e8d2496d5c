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


def test_every_scheduled_dag_has_a_run_timeout_and_the_nightly_ones_a_slack_deadline(report):
    """A hung night times out and a late one is announced: both limits come from include/config/deadlines.yaml.
    The deadlines are counted from the nightly slot: one counted from the queue time would break clearing a
    failed task of the run on Airflow 3.3.2 (HTTP 500), which is how a night is rerun."""
    from pipelines.common.deadlines import post_deadline_miss

    scheduled = {dag_id: dag for dag_id, dag in report.dags.items() if dag.timetable.can_be_scheduled}
    assert scheduled, "no scheduled DAG found"
    with_deadline = {}
    for dag_id, dag in scheduled.items():
        assert dag.dagrun_timeout is not None, dag_id
        assert dag.dagrun_timeout.total_seconds() > 0, dag_id
        deadlines = [alert for alert in (dag.deadline if isinstance(dag.deadline, list) else [dag.deadline]) if alert]
        assert [type(alert.reference).__name__ for alert in deadlines if type(alert.reference).__name__
                == "DagRunQueuedAtDeadline"] == [], dag_id
        if deadlines:
            with_deadline[dag_id] = [alert.callback.path for alert in deadlines]
    callback = f"{post_deadline_miss.__module__}.{post_deadline_miss.__qualname__}"
    assert with_deadline == {dag_id: [callback] for dag_id in ("appxml_staging", "opendental_nightly")}


def test_opendental_is_late_when_its_business_hours_gate_opens(report):
    """Slot 01:00 Chicago, gate 06:00 Chicago: the deadline is five hours after the slot (its logical date)."""
    from datetime import timedelta

    alert = report.dags["opendental_nightly"].deadline
    alert = alert[0] if isinstance(alert, list) else alert
    assert type(alert.reference).__name__ == "DagRunLogicalDateDeadline"
    assert alert.interval == timedelta(hours=5)
