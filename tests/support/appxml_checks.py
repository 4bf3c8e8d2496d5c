"""What the appxml tests use besides the package: the C14N of a document's CustData, the SQL one engine
receives, whether the staging index exists, and a failure injected from outside (the staging table
refusing one app_id, as a constraint would). The deployable package never needs any of it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from lxml import etree

from pipelines.appxml.reduce import find_custdata
from pipelines.appxml.tables import index_name
from pipelines.common.database.tables import TableName
from pipelines.common.xml import RejectedXml, parse_xml


def custdata_c14n(document: str | bytes) -> bytes | None:
    """Canonical form (C14N) of the document's ``Request/CustData``, or None when it has none."""
    try:
        found = find_custdata(parse_xml(document))
    except RejectedXml:
        return None
    return None if found is None else etree.tostring(found[1], method="c14n", with_tail=False)


def compile_sql(statement: sa.ClauseElement, dialect_name: str) -> str:
    """The SQL text one engine receives, with parameters inlined."""
    return str(statement.compile(dialect=dialect_for(dialect_name), compile_kwargs={"literal_binds": True}))


def dialect_for(dialect_name: str) -> sa.Dialect:
    """A dialect without its DB-API driver (none is needed to compile)."""
    from sqlalchemy.dialects import mssql, postgresql, sqlite

    if dialect_name != "mssql":
        return {"postgresql": postgresql, "sqlite": sqlite}[dialect_name].dialect()
    # What SQLAlchemy detects when it connects to SQL Server 2012 or later (production is newer).
    dialect = mssql.dialect(deprecate_large_types=True)
    dialect.server_version_info = (16, 0)
    dialect._supports_offset_fetch = True
    dialect._supports_nvarchar_max = True
    return dialect


def index_exists(engine: sa.Engine, staging: TableName) -> bool:
    schema = None if engine.dialect.name == "sqlite" else staging.schema
    names = {ix["name"] for ix in sa.inspect(engine).get_indexes(staging.name, schema=schema)}
    return index_name(staging) in names


REFUSE_TRIGGER = "test_refuse_app_id"
STAGING = TableName("dbo", "app_xml_staging")
_CREATE_REFUSAL = {
    "postgresql": [
        f"""CREATE OR REPLACE FUNCTION {{schema}}.{REFUSE_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'row refused by the test' USING ERRCODE = 'check_violation'; END $$""",
        f"""CREATE TRIGGER {REFUSE_TRIGGER} BEFORE INSERT ON {{table}} FOR EACH ROW
            WHEN (NEW.app_id IN ({{app_ids}})) EXECUTE FUNCTION {{schema}}.{REFUSE_TRIGGER}()""",
    ],
    "sqlite": [
        f"""CREATE TRIGGER {REFUSE_TRIGGER} BEFORE INSERT ON {{table}} FOR EACH ROW WHEN NEW.app_id IN ({{app_ids}})
            BEGIN SELECT RAISE(ABORT, 'row refused by the test'); END""",
    ],
}
_DROP_REFUSAL = {
    "postgresql": [f"DROP TRIGGER IF EXISTS {REFUSE_TRIGGER} ON {{table}}",
                   f"DROP FUNCTION IF EXISTS {{schema}}.{REFUSE_TRIGGER}()"],
    "sqlite": [f"DROP TRIGGER IF EXISTS {REFUSE_TRIGGER}"],
}


def _run(engine: sa.Engine, statements: list[str], staging: TableName, app_ids: Iterable[int] = (0,)) -> None:
    table = staging.name if engine.dialect.name == "sqlite" else str(staging)
    ids = ", ".join(str(int(app_id)) for app_id in app_ids)
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement.format(schema=staging.schema, table=table, app_ids=ids))


@contextmanager
def staging_refuses(engine: sa.Engine, app_id: int | Iterable[int],
                    staging: TableName = STAGING) -> Iterator[None]:
    """While open, the staging table (which must exist) refuses the row of ``app_id`` (or of each of several
    app_ids) with an integrity error raised by a trigger, for every writer (a ``dag.test()`` run, a
    scheduler's worker, the CLI)."""
    _run(engine, _CREATE_REFUSAL[engine.dialect.name], staging, [app_id] if isinstance(app_id, int) else app_id)
    try:
        yield
    finally:
        _run(engine, _DROP_REFUSAL[engine.dialect.name], staging)


def first_staged_id_of_batch(app_ids: list[int], staged_ids: set[int], batch: int, number: int) -> int:
    """The first app_id of the ``number``-th batch (1-based, in app_id order) that gets staged."""
    candidates = [app_id for app_id in sorted(app_ids)[(number - 1) * batch:number * batch] if app_id in staged_ids]
    assert candidates, f"batch {number} stages nothing: choose another one"
    return candidates[0]


SLOW_TRIGGER = "test_slow_rows"


@contextmanager
def staging_is_slow(engine: sa.Engine, app_ids: Iterable[int], seconds_per_row: float,
                    staging: TableName = STAGING) -> Iterator[None]:
    """While open, each insert of one of ``app_ids`` into the staging table (PostgreSQL; it must exist) takes
    ``seconds_per_row`` longer: a partition that runs as long as a production one over millions of rows."""
    ids = ", ".join(str(int(app_id)) for app_id in app_ids)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"""CREATE OR REPLACE FUNCTION {staging.schema}.{SLOW_TRIGGER}() RETURNS trigger
            LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep({float(seconds_per_row)}); RETURN NEW; END $$""")
        conn.exec_driver_sql(f"""CREATE TRIGGER {SLOW_TRIGGER} BEFORE INSERT ON {staging} FOR EACH ROW
            WHEN (NEW.app_id IN ({ids})) EXECUTE FUNCTION {staging.schema}.{SLOW_TRIGGER}()""")
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {SLOW_TRIGGER} ON {staging}")
            conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {staging.schema}.{SLOW_TRIGGER}()")
