"""Fixtures for xml_mapping: a fresh PostgreSQL database standing in for SQL Server (connection
``mssql_appxml``) whose staging table holds generated documents for the example contracts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from devtools.xml_mapping.generator import corpus_cycle, staged_corpus
from devtools.xml_mapping.seed import stage_documents
from pipelines.appxml.config import CONN_ID
from pipelines.common.database.engines import engine_from_url
from pipelines.xml_mapping.config import load_contracts
from pipelines.xml_mapping.mapper import CompiledContract
from pipelines.xml_mapping.target_tables import TargetSchema, build_schema, ensure_schema

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SHARED_CORPUS = PROJECT_ROOT / ".." / "shared" / "corpus"
EXAMPLES = ["example_cc.json", "example_rl.json"]
DOCUMENTS = 60
FIRST_APP_ID = 5000
CORPUS_FIRST_APP_ID = 700_000


@dataclass
class MappingDb:
    db: object
    engine: sa.Engine
    contracts: list[CompiledContract]
    target: TargetSchema
    products: dict[int, str]
    documents: int = DOCUMENTS
    first_app_id: int = FIRST_APP_ID

    def scalar(self, sql: str, *params: object) -> object:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql(sql, params if params else None).scalar()

    def rows(self, sql: str, *params: object) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.exec_driver_sql(sql, params if params else None).all()]

    def log(self) -> dict[int, list[tuple[str, str | None]]]:
        out: dict[int, list[tuple[str, str | None]]] = {}
        for app_id, status, reason in self.rows("SELECT app_id, status, failure_reason FROM "
                                                "migration.processing_log ORDER BY log_id"):
            out.setdefault(app_id, []).append((status, reason))
        return out

    def counts(self) -> dict[str, int]:
        return {name: self.scalar(f"SELECT COUNT(*) FROM migration.{name}") for name in self.target.tables}

    def stage(self, documents: list[tuple[int, bytes | str]]) -> None:
        stage_documents(self.engine, documents, reduce=False)


@pytest.fixture
def mapping_db(database_factory, set_connection) -> Iterator[MappingDb]:
    db = database_factory("postgres")
    set_connection(CONN_ID, db.airflow_conn())
    engine = engine_from_url(db.url)
    contracts = _example_contracts()
    target = build_schema(contracts, engine.dialect.name)
    ensure_schema(engine, target)
    docs = list(staged_corpus(DOCUMENTS, seed=3, first_app_id=FIRST_APP_ID))
    stage_documents(engine, ((app_id, body) for app_id, _, body in docs))
    yield MappingDb(db, engine, contracts, target, {app_id: product for app_id, product, _ in docs})
    engine.dispose()


def _example_contracts() -> list[CompiledContract]:
    from pipelines.common.paths import config_path

    return load_contracts([config_path(f"xml_mapping/{name}") for name in EXAMPLES])


KILL_SWITCH = """
CREATE TABLE public.kill_switch (app_id int PRIMARY KEY);
CREATE FUNCTION public.die_on_switch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM public.kill_switch WHERE app_id = NEW.app_id) THEN
    PERFORM pg_terminate_backend(pg_backend_pid());
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER die_on_switch BEFORE INSERT ON migration.application
  FOR EACH ROW EXECUTE FUNCTION public.die_on_switch();
"""


@pytest.fixture
def kill_switch(mapping_db):
    """``kill_switch(app_id)``: the database connection that inserts this application's application row dies (a
    real lost connection, not a raised exception); ``kill_switch(None)`` disarms it."""
    with mapping_db.engine.begin() as conn:
        conn.exec_driver_sql(KILL_SWITCH)

    def arm(app_id: int | None) -> None:
        with mapping_db.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM public.kill_switch")
            if app_id is not None:
                conn.exec_driver_sql("INSERT INTO public.kill_switch VALUES (%s)", (app_id,))
    return arm


@pytest.fixture
def corpus_db(database_factory, shared_corpus) -> Iterator[MappingDb]:
    """A fresh database with the shared corpus staged (unique app_ids and con_ids); no target tables yet."""
    db = database_factory("postgres")
    engine = engine_from_url(db.url)
    contracts = load_contracts([shared_corpus / "xml_mapping" / f"mapping_contract_{p}.json" for p in ("cc", "rl")])
    documents = list(corpus_cycle(shared_corpus / "provenir", 130, first_app_id=CORPUS_FIRST_APP_ID, skip=()))
    stage_documents(engine, documents)
    yield MappingDb(db, engine, contracts, build_schema(contracts, engine.dialect.name), {}, len(documents),
                    CORPUS_FIRST_APP_ID)
    engine.dispose()


@pytest.fixture(scope="session")
def mapping_dag(airflow_db):
    from tests.support.airflow_env import load_dags

    return load_dags()["appxml_mapping"]


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    if not (SHARED_CORPUS / "xml_mapping").is_dir():
        pytest.skip("the shared corpus is not checked out next to the project")
    return SHARED_CORPUS.resolve()
