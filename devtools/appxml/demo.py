"""``make demo`` for appxml: a local PostgreSQL stands in for SQL Server; its ``dbo.app_xml`` gets generated
Provenir documents (with a few malformed, empty and CustData-less ones), then one ``appxml_staging`` run
with 4 partitions.

``make demo FAIL=appxml:<rem>``: the staging table gets a check constraint that refuses the rows of that
remainder, as a constraint or trigger added by a DBA would; the partition fails at once (no retry) with
its batch refused, the other three stage their documents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devtools.appxml import generator, seed
from devtools.demo import DemoEnv, DemoFault, DemoSpec
from pipelines.appxml import ddl
from pipelines.appxml.config import CONN_ID, load_settings
from pipelines.common.database.engines import engine_from_url
from pipelines.common.database.tables import TableName
from pipelines.common.partitions import partition_label

DEMO_DOCUMENTS = 400
WORKERS = 4
DEMO_CONF = {"workers": WORKERS, "batch": 50, "drop_index": True, "recreate_index": True}


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


def _refusal(rem: str) -> str:
    return f"demo_refuses_rem_{int(rem)}"


def _staging_sql(env: DemoEnv, statement: str) -> None:
    engine = engine_from_url(_database(env).url)
    try:
        staging = TableName.parse(load_settings().staging_table)
        ddl.ensure_staging_table(engine, staging)  # the run would create it; the constraint needs it now
        with engine.begin() as conn:
            conn.exec_driver_sql(statement.format(staging=staging))
    finally:
        engine.dispose()


def refuse_remainder(env: DemoEnv, rem: str) -> str:
    """The staging table refuses every row of ``app_id % workers = rem`` (NOT VALID: no row is checked now)."""
    _staging_sql(env, f"ALTER TABLE {{staging}} ADD CONSTRAINT {_refusal(rem)} "
                      f"CHECK (mod(app_id, {WORKERS}) <> {int(rem)}) NOT VALID")
    return (f"{load_settings().staging_table} refuses the rows of app_id % {WORKERS} = {int(rem)} "
            f"(check constraint {_refusal(rem)}): partition {partition_label(int(rem), WORKERS)} cannot stage")


def accept_remainder(env: DemoEnv, rem: str) -> None:
    _staging_sql(env, f"ALTER TABLE {{staging}} DROP CONSTRAINT IF EXISTS {_refusal(rem)}")


FAULT = DemoFault(
    family="appxml",
    dag_id=lambda rem: "appxml_staging",
    targets=f"remainder 0..{WORKERS - 1}",
    is_target=lambda rem: rem.isdigit() and int(rem) < WORKERS,
    arrange=refuse_remainder,
    repair=accept_remainder,
    failed_item=lambda rem: f"stage_partition [{partition_label(int(rem), WORKERS)}]",
    rerun_conf=lambda rem: {"workers": WORKERS, "batch": DEMO_CONF["batch"], "remainders": [int(rem)]},
)

DEMOS = [DemoSpec(dag_id="appxml_staging", seed=seed_source, connections=connections, counts=counts,
                  conf=DEMO_CONF, order=10)]
