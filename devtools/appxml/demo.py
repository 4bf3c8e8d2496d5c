"""``make demo`` for appxml: a local PostgreSQL stands in for SQL Server; its ``dbo.app_xml`` gets generated
Provenir documents (with a few malformed, empty and CustData-less ones), then one ``appxml_staging`` run
with 4 partitions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devtools.appxml import generator, seed
from devtools.demo import DemoEnv, DemoSpec
from pipelines.appxml.engines import CONN_ID, engine_from_url

DEMO_DOCUMENTS = 400
DEMO_CONF = {"workers": 4, "batch": 50, "drop_index": True, "recreate_index": True}


def _database(env: DemoEnv) -> Any:
    return env.database("postgres", "appxml")


def seed_source(env: DemoEnv) -> None:
    engine = engine_from_url(_database(env).url)
    try:
        table = seed.create_source_table(engine)
        docs = generator.synthetic_corpus(DEMO_DOCUMENTS, seed=11, first_app_id=500_000)
        seed.load_source(engine, table, ((doc.app_id, seed.as_text(doc.body)) for doc in docs))
    finally:
        engine.dispose()


def connections(env: DemoEnv) -> Mapping[str, str]:
    return {CONN_ID: _database(env).airflow_conn()}


def counts(env: DemoEnv) -> Mapping[str, Any]:
    db = _database(env)
    source = db.scalar("SELECT COUNT(*) FROM dbo.app_xml")
    staged = db.scalar("SELECT COUNT(*) FROM dbo.app_xml_staging")
    return {"source_rows": source, "staged": staged, "skipped": source - staged}


DEMOS = [DemoSpec(dag_id="appxml_staging", seed=seed_source, connections=connections, counts=counts,
                  conf=DEMO_CONF, order=10)]
