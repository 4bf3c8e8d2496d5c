"""Fixtures for the OpenDental pipeline: fresh source/replica (MariaDB) and analytics (PostgreSQL)
databases per test, and the DAG parsed with test settings (one quick retry instead of 3 x 5 minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.common.paths import INCLUDE_DIR_ENV
from tests.integration.opendental.odsupport import Stack, include_with, make_stack


@pytest.fixture
def stack(database_factory, set_connection) -> Stack:
    return make_stack(database_factory, set_connection)


@pytest.fixture(scope="session")
def test_include(tmp_path_factory) -> Path:
    return include_with(tmp_path_factory.mktemp("opendental"), stages={"retries": 1, "retry_delay_minutes": 0})


@pytest.fixture
def nightly_dag(test_include, monkeypatch):
    monkeypatch.setenv(INCLUDE_DIR_ENV, str(test_include))
    from tests.support.airflow_env import load_dags

    return load_dags()["opendental_nightly"]
