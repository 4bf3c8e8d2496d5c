"""Fixtures for the OpenDental pipeline: fresh source/replica (MariaDB) and analytics (PostgreSQL)
databases per test, and the DAG parsed with test settings (one quick retry instead of 3 x 5 minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipelines.common.paths import config_path
from tests.integration.opendental.odsupport import Stack, make_stack


@pytest.fixture
def stack(database_factory, set_connection) -> Stack:
    return make_stack(database_factory, set_connection)


@pytest.fixture(scope="session")
def test_settings_file(tmp_path_factory) -> Path:
    data = yaml.safe_load(config_path("opendental_tables.yaml").read_text())
    data["stages"].update({"retries": 1, "retry_delay_minutes": 0})
    path = tmp_path_factory.mktemp("opendental") / "opendental_tables.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def nightly_dag(test_settings_file, monkeypatch):
    monkeypatch.setenv("OPENDENTAL_ETL_CONFIG", str(test_settings_file))
    from tests.support.airflow_env import load_dags

    return load_dags()["opendental_nightly"]
