"""``make demo`` for OpenDental: a handful of OpenDental tables (the project's own, in ``tables``, so the demo
needs neither the tests nor the shared corpus) filled with generated rows in a local MariaDB "production",
then one ``opendental_nightly`` run into a local replica and PostgreSQL.

``make demo FAIL=opendental:<table>``: that table's rows are moved out of the source, as by a half-finished
archiving job, and it becomes a MERGE table over a table that does not exist: it is still listed, so the
plan takes it, but every read of it fails. Its extract fails (one retry, at once), the other tables finish,
the summary names it. The repair puts the table and its rows back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devtools.demo import DemoEnv, DemoFault, DemoSpec
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


def _attic(env: DemoEnv) -> Any:
    """Where the broken table's rows wait for the repair (outside the source, so no run copies them)."""
    return env.database("mysql", "opendental_attic")


def _on_source(env: DemoEnv, *statements: str) -> None:
    conn = _databases(env)[0].connect()
    try:
        for statement in statements:
            conn.cursor().execute(statement)
    finally:
        conn.close()


def break_table(env: DemoEnv, table: str) -> str:
    attic = f"`{_attic(env).name}`.`{table}`"
    _on_source(env, f"RENAME TABLE `{table}` TO {attic}", f"CREATE TABLE `{table}` LIKE {attic}",
               f"ALTER TABLE `{table}` ENGINE=MRG_MyISAM UNION=(`{table}_archived`)")
    return (f"the source's table {table} became a MERGE table over {table}_archived, which does not exist: "
            "it is still listed, every read of it fails")


def restore_table(env: DemoEnv, table: str) -> None:
    """The table and its rows back in the source, as the seed left them."""
    _on_source(env, f"DROP TABLE `{table}`", f"RENAME TABLE `{_attic(env).name}`.`{table}` TO `{table}`")


FAULT = DemoFault(
    family="opendental",
    dag_id=lambda table: "opendental_nightly",
    targets="table: " + "|".join(DEMO_TABLES),
    is_target=lambda table: table in DEMO_TABLES,
    arrange=break_table,
    repair=restore_table,
    failed_item=lambda table: f"copy_table [{table}]",
    rerun_conf=lambda table: {"tables": [table], "allow_business_hours": True, "parallel": 2},
    # The failing table is retried once, at once, instead of 3 times 5 minutes apart.
    config={"opendental.yaml": {"stages": {"retries": 1, "retry_delay_minutes": 0}}},
)

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
