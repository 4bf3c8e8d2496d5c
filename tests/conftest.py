"""Shared fixtures: real PostgreSQL and MariaDB databases, a moto server, a Slack webhook sink, and an
isolated Airflow home with a migrated metadata DB."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.airflow_env import DagRunResult, configure_airflow_home, migrate_metadata_db, run_dag
from tests.support.openlineage import LineageEvents, capture_openlineage
from tests.support.services import (
    Database,
    MotoEndpoint,
    SlackSink,
    conn_env_name,
    create_database,
    drop_database,
    moto_server,
    start_slack_sink,
)

# Before any test module imports airflow.
AIRFLOW_HOME = configure_airflow_home()


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated Airflow metadata DB (SQLite) for dag.test() and the metadata models."""
    migrate_metadata_db()


@pytest.fixture
def dag_runner(airflow_db: None) -> Callable[..., DagRunResult]:
    """``dag_runner(dag, conf)`` runs the DAG with ``dag.test(run_conf=conf)`` and returns task states."""
    return run_dag


@pytest.fixture
def set_connection(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], None]:
    """``set_connection(conn_id, json)`` defines an Airflow connection through AIRFLOW_CONN_<ID>."""

    def define(conn_id: str, conn_json: str) -> None:
        monkeypatch.setenv(conn_env_name(conn_id), conn_json)

    return define


@pytest.fixture(scope="session")
def database_factory() -> Iterator[Callable[[str], Database]]:
    """``database_factory("postgres" | "mysql")`` creates a fresh database, dropped at session end."""
    created: list[Database] = []

    def make(engine: str) -> Database:
        db = create_database(engine)
        created.append(db)
        return db

    yield make
    for db in created:
        drop_database(db)


@pytest.fixture(scope="session")
def pg_database(database_factory: Callable[[str], Database]) -> Database:
    """A fresh PostgreSQL database for this test session."""
    return database_factory("postgres")


@pytest.fixture(scope="session")
def mariadb_database(database_factory: Callable[[str], Database]) -> Database:
    """A fresh MariaDB database for this test session."""
    return database_factory("mysql")


@pytest.fixture(scope="session", name="moto_server")
def moto_server_fixture() -> Iterator[MotoEndpoint]:
    """A real moto server (ThreadedMotoServer) on 127.0.0.1 and a random free port."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws(moto_server: MotoEndpoint, set_connection: Callable[[str, str], None],
        monkeypatch: pytest.MonkeyPatch) -> MotoEndpoint:
    """moto, reset, with the ``aws_default`` and ``aws_flywheel`` connections pointing at it."""
    moto_server.reset()
    for conn_id in ("aws_default", "aws_flywheel"):
        set_connection(conn_id, moto_server.airflow_conn())
    monkeypatch.setenv("AWS_DEFAULT_REGION", moto_server.region)
    return moto_server


@pytest.fixture
def slack_webhook(set_connection: Callable[[str, str], None]) -> Iterator[SlackSink]:
    """A local webhook server recording Slack posts; the ``slack_alerts`` connection points at it."""
    sink = start_slack_sink()
    set_connection("slack_alerts", sink.airflow_conn())
    yield sink
    sink.server.shutdown()
    sink.server.server_close()


@pytest.fixture
def openlineage_events(monkeypatch: pytest.MonkeyPatch) -> Iterator[LineageEvents]:
    """The OpenLineage HTTP transport pointed at a local sink for the test; ``.events`` are what it received."""
    with capture_openlineage(monkeypatch) as events:
        yield events
