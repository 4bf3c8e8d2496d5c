"""Fixtures for appxml: a fresh PostgreSQL database standing in for SQL Server (connection
``mssql_appxml``), a source table filled by the committed generator, and the parsed DAG."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from devtools.appxml import generator, seed
from pipelines.appxml.config import CONN_ID
from pipelines.common.database.engines import engine_from_url
from tests.support.appxml_checks import custdata_c14n

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SHARED_CORPUS = PROJECT_ROOT / ".." / "shared" / "corpus" / "provenir"


@dataclass
class AppxmlDb:
    db: object
    engine: sa.Engine
    docs: list[generator.SyntheticDoc]

    def staged(self) -> dict[int, str]:
        with self.engine.connect() as conn:
            return dict(conn.exec_driver_sql('SELECT app_id, "app_XML" FROM dbo.app_xml_staging').all())

    def staged_ids(self, mod: int = 1, rem: int = 0) -> list[int]:
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT app_id FROM dbo.app_xml_staging WHERE app_id %% %s = %s ORDER BY app_id", (mod, rem)).all()
        return [row[0] for row in rows]

    def expected(self) -> dict[int, bytes]:
        """app_id -> C14N of CustData, for every source document that has one."""
        return {doc.app_id: custdata_c14n(doc.body) for doc in self.docs if doc.has_custdata}


def load_synthetic_source(db) -> AppxmlDb:
    """``dbo.app_xml`` in ``db`` filled with 80 generated documents (every kind of odd row among them)."""
    engine = engine_from_url(db.url)
    table = seed.create_source_table(engine)
    docs = list(generator.synthetic_corpus(80, seed=3, first_app_id=2000, median_bytes=6_000, special_every=8))
    seed.load_source(engine, table, ((doc.app_id, seed.as_text(doc.body)) for doc in docs))
    return AppxmlDb(db, engine, docs)


@pytest.fixture
def appxml_db(database_factory, set_connection) -> Iterator[AppxmlDb]:
    db = database_factory("postgres")
    set_connection(CONN_ID, db.airflow_conn())
    loaded = load_synthetic_source(db)
    yield loaded
    loaded.engine.dispose()


@pytest.fixture(scope="session")
def staging_dag(airflow_db):
    from tests.support.airflow_env import load_dags

    return load_dags()["appxml_staging"]


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    if not SHARED_CORPUS.is_dir():
        pytest.skip("the shared Provenir corpus is not checked out next to the project")
    return SHARED_CORPUS.resolve()
