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
