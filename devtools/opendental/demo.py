"""``make demo`` for OpenDental: a handful of OpenDental tables (the project's own, in ``tables``, so the demo
needs neither the tests nor the shared corpus) filled with generated rows in a local MariaDB "production",
then one ``opendental_nightly`` run into a local replica and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devtools.demo import DemoEnv, DemoSpec
from devtools.opendental import generator, tables
from pipelines.opendental.config import ANALYTICS_CONN_ID, REPLICA_CONN_ID, SOURCE_CONN_ID

DEMO_TABLES = ["patient", "appointment", "procedurelog", "claimproc", "payment", "definition", "securitylog"]
ROWS_PER_TABLE = 500


def ddl_statements() -> list[str]:
    """The demo tables' DDL, rendered from the project's own OpenDental-style tables."""
    return [tables.create_table(table) for table in DEMO_TABLES]


def _databases(env: DemoEnv) -> tuple[Any, Any, Any]:
    return (env.database("mysql", "opendental_source"), env.database("mysql", "opendental_replica"),
            env.database("postgres", "opendental_analytics"))


def seed(env: DemoEnv) -> None:
    source, _, _ = _databases(env)
    conn = source.connect()
    try:
        for table in generator.load_ddl(conn, ddl_statements()):
            generator.fill_table(conn, table, ROWS_PER_TABLE)
    finally:
        conn.close()


def connections(env: DemoEnv) -> Mapping[str, str]:
    source, replica, analytics = _databases(env)
    return {SOURCE_CONN_ID: source.airflow_conn(), REPLICA_CONN_ID: replica.airflow_conn(),
            ANALYTICS_CONN_ID: analytics.airflow_conn()}


def counts(env: DemoEnv) -> Mapping[str, Any]:
    _, replica, analytics = _databases(env)
    public_tables = analytics.scalar("SELECT COUNT(*) FROM information_schema.tables "
                                     "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
    patients = analytics.scalar("SELECT COUNT(*) FROM public.patient")
    procedures = analytics.scalar("SELECT COUNT(*) FROM public.procedurelog")
    validated = replica.scalar("SELECT COUNT(*) FROM etl_run_validation WHERE ok = 1")
    return {"public tables": public_tables, "public.patient": patients, "public.procedurelog": procedures,
            "tables validated": validated}


DEMOS = [
    DemoSpec(
        dag_id="opendental_nightly",
        seed=seed,
        connections=connections,
        counts=counts,
        conf={"allow_business_hours": True, "parallel": 2},
        order=40,
    ),
]
