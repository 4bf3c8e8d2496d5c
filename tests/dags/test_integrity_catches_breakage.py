"""The integrity check is only worth having if it fails: each kind of breakage is planted in a
throwaway DAG folder and must be reported."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.dags.integrity import check_dag_folder

GOOD_DAG = """
from airflow.sdk import DAG, task
from pipelines.common.defaults import dag_defaults

with DAG("{dag_id}", schedule=None, doc_md="A probe.", **dag_defaults(tags=["probe"])):
    @task({task_args})
    def work():
        return 1
    work()
"""


def plant(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def test_a_good_dag_passes(tmp_path):
    plant(tmp_path, "good.py", GOOD_DAG.format(dag_id="good", task_args=""))

    report = check_dag_folder(tmp_path, {"default_pool"})

    assert report.problems() == []
    assert set(report.dags) == {"good"}


def test_import_error_is_reported(tmp_path):
    plant(tmp_path, "broken.py", GOOD_DAG.format(dag_id="broken", task_args="") + "\nraise ValueError('boom')\n")

    problems = check_dag_folder(tmp_path, {"default_pool"}).problems()

    assert any("import error in" in p and "broken.py" in p and "boom" in p for p in problems), problems


def test_unknown_pool_is_reported(tmp_path):
    plant(tmp_path, "pooled.py", GOOD_DAG.format(dag_id="pooled", task_args="pool='no_such_pool'"))

    problems = check_dag_folder(tmp_path, {"default_pool"}).problems()

    assert any("no_such_pool" in p for p in problems), problems


@pytest.mark.parametrize(
    "network_call",
    [
        "socket.create_connection(('127.0.0.1', 5432), timeout=1)",
        "urllib.request.urlopen('http://example.invalid/', timeout=1)",
    ],
)
def test_network_at_import_time_is_reported(tmp_path, network_call):
    plant(tmp_path, "chatty.py", "import socket, urllib.request\n" + network_call + "\n"
          + GOOD_DAG.format(dag_id="chatty", task_args=""))

    report = check_dag_folder(tmp_path, {"default_pool"})

    assert report.network_attempts, report.problems()
    assert any("network at parse time" in p for p in report.problems())


def test_missing_conventions_are_reported(tmp_path):
    plant(tmp_path, "bare.py", """
        from airflow.sdk import DAG, task
        with DAG("bare", schedule=None):
            @task
            def work():
                return 1
            work()
    """)

    problems = check_dag_folder(tmp_path, {"default_pool"}).problems()

    for expected in ("bare: no tags", "bare: no doc_md", "bare: no DAG-level on_failure_callback",
                     "bare.work: no owner", "bare.work: retries < 1", "bare.work: no on_failure_callback"):
        assert expected in problems


def test_slow_import_is_reported(tmp_path):
    plant(tmp_path, "slow.py", "import time\ntime.sleep(1.2)\n" + GOOD_DAG.format(dag_id="slow", task_args=""))

    problems = check_dag_folder(tmp_path, {"default_pool"}).problems()

    assert any("slow.py took" in p for p in problems), problems
