"""`make demo` runs every DAG that exists: each DAG in dags/ has a DemoSpec, and each spec names a real DAG."""

from __future__ import annotations

import pytest

from devtools.demo import discover_demos
from tests.support.airflow_env import load_dags


@pytest.fixture(scope="module")
def demo_dag_ids() -> list[str]:
    return [spec.dag_id for spec in discover_demos()]


def test_every_dag_is_in_the_demo(demo_dag_ids):
    assert set(load_dags()) - set(demo_dag_ids) == set()


def test_every_demo_spec_names_an_existing_dag(demo_dag_ids):
    assert set(demo_dag_ids) - set(load_dags()) == set()
