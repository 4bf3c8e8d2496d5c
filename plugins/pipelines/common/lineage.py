"""OpenLineage inputs and outputs of the project's tasks, named by the OpenLineage naming conventions.

A task body names what it reads and writes in one line::

    lineage.declare(inputs=[lineage.table("opendental_source", "patient")],
                    outputs=[lineage.table("opendental_replication", "patient", rows=120)])

``declare`` puts OpenLineage ``Dataset`` objects on the running task's ``inlets``/``outlets`` (the Airflow
``Asset`` outlets a task already has stay as they are). The OpenLineage provider's listener turns them into
the inputs and outputs of the task's START/COMPLETE/FAIL events: a ``@task`` or a custom operator has no
extractor of its own, so the provider falls back to the task's inlets and outlets (hook-level lineage would
come first, but no hook this project calls reports any). Call it once at the start (a failed task still
names its datasets) and again at the end with row counts: each call replaces the previous declaration.

Namespaces and names (https://openlineage.io/docs/spec/naming), built from the connection's host, port and
database only, never from its login or password:

=========== ================================ ==================================
system      namespace                        name
=========== ================================ ==================================
MySQL       ``mysql://host:port``            ``database.table``
PostgreSQL  ``postgres://host:port``         ``database.schema.table``
SQL Server  ``mssql://host:port``            ``database.schema.table``
S3          ``s3://bucket``                  ``key/prefix`` (no leading slash)
Glue tables ``awsathena://athena.<region>.amazonaws.com``  ``AwsDataCatalog.database.table``
=========== ================================ ==================================

Glue tables take the Athena operator's convention, so the tables the Glue jobs register and the ones
``AthenaOperator`` repairs are the same datasets in the graph. A whole database (the Fileload/Insight
partition databases) is the database's name alone.

Events carry names, column names and types, and row counts: never a row value. With no
``[openlineage] transport`` configured the provider is disabled and ``declare`` returns at once, without
looking anything up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlparse

log = logging.getLogger(__name__)

ATHENA_CATALOG = "AwsDataCatalog"
DEFAULT_PORTS = {"mysql": 3306, "postgres": 5432, "mssql": 1433}
# Airflow connection types -> OpenLineage scheme.
SCHEMES = {"mysql": "mysql", "postgres": "postgres", "postgresql": "postgres", "mssql": "mssql",
           "odbc": "mssql"}


@dataclass(frozen=True)
class DatasetRef:
    """One dataset a task reads or writes, resolved to an OpenLineage dataset only when lineage is on.

    ``conn_id`` + ``parts`` name a database object (``parts`` below the database: ``(table,)`` on MySQL,
    ``(schema, table)`` elsewhere, ``()`` for the whole database); ``namespace`` + ``name`` a dataset
    named directly (S3, Glue)."""

    conn_id: str | None = None
    parts: tuple[str, ...] = ()
    database: str | None = None
    namespace: str | None = None
    name: str | None = None
    columns: tuple[tuple[str, str], ...] = ()
    rows: int | None = None
    describe: bool = False  # read the column names and types from information_schema when resolved

    def with_rows(self, rows: int | None) -> DatasetRef:
        return replace(self, rows=None if rows is None else int(rows))

    def with_columns(self, columns: Iterable[tuple[str, str]]) -> DatasetRef:
        return replace(self, columns=tuple((str(n), str(t)) for n, t in columns))


def table(conn_id: str, *parts: str, database: str | None = None, rows: int | None = None,
          columns: Iterable[tuple[str, str]] = (), describe: bool = False) -> DatasetRef:
    """A table of connection ``conn_id``: ``table(c, "patient")`` (MySQL), ``table(c, "raw", "patient")``
    or ``table(c, "dbo.app_xml")`` (a dotted name is split); ``database`` defaults to the connection's.
    ``describe=True`` adds the schema facet from the database's information_schema (names and types)."""
    split = tuple(p for part in parts for p in str(part).split("."))
    return DatasetRef(conn_id=conn_id, parts=split, database=database, rows=None if rows is None else int(rows),
                      columns=tuple((str(n), str(t)) for n, t in columns), describe=describe)


def sa_table(conn_id: str, sa_table: Any, rows: int | None = None) -> DatasetRef:
    """A SQLAlchemy ``Table`` of connection ``conn_id``, with its columns (names and generic types)."""
    columns = []
    for column in sa_table.columns:
        try:
            type_name = str(column.type)
        except Exception:  # a type without a generic rendering
            type_name = type(column.type).__name__
        columns.append((column.name, type_name))
    parts = (sa_table.schema, sa_table.name) if sa_table.schema else (sa_table.name,)
    return table(conn_id, *parts, rows=rows, columns=columns)


def database(conn_id: str, name: str | None = None) -> DatasetRef:
    """A whole database of connection ``conn_id`` (``name``, else the connection's)."""
    return DatasetRef(conn_id=conn_id, database=name)


def s3(uri: str, rows: int | None = None) -> DatasetRef:
    """An S3 object or prefix, ``s3://bucket/key/prefix/``."""
    parsed = urlparse(uri)
    return DatasetRef(namespace=f"s3://{parsed.netloc}", name=parsed.path.lstrip("/") or "/", rows=rows)


def glue_table(region: str, database_name: str, table_name: str, catalog: str = ATHENA_CATALOG) -> DatasetRef:
    """A Glue Data Catalog table, named as the Athena operator names it."""
    return DatasetRef(namespace=f"awsathena://athena.{region}.amazonaws.com",
                      name=".".join((catalog, database_name, table_name)))


# --- resolving -------------------------------------------------------------------------------------------

def enabled() -> bool:
    """True when the OpenLineage provider will emit events in this process ([openlineage] transport set)."""
    try:
        from airflow.providers.openlineage import conf
    except ImportError:
        return False
    return not conf.is_disabled()


def connection_namespace(conn_id: str) -> tuple[str, str | None]:
    """(``scheme://host:port``, the connection's database) from the connection's public fields only."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    scheme = SCHEMES.get(str(conn.conn_type), str(conn.conn_type))
    port = conn.port or DEFAULT_PORTS.get(scheme)
    authority = f"{conn.host}:{port}" if port else str(conn.host)
    return f"{scheme}://{authority}", conn.schema or None


def resolve(ref: DatasetRef) -> tuple[str, str]:
    """(namespace, name) of ``ref``."""
    if ref.namespace is not None:
        return ref.namespace, str(ref.name)
    namespace, default_db = connection_namespace(str(ref.conn_id))
    db = ref.database or default_db
    if namespace.startswith("postgres://") and db is None:
        raise ValueError(f"connection {ref.conn_id!r} names no database")
    return namespace, ".".join(p for p in (db, *ref.parts) if p)


COLUMNS_SQL = ("SELECT column_name, {type} FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
               "ORDER BY ordinal_position")


def describe_columns(ref: DatasetRef) -> tuple[tuple[str, str], ...]:
    """Column names and types of a table ``ref`` from information_schema (a plain DB-API cursor: no hook
    method that would report hook lineage of its own)."""
    from airflow.sdk import BaseHook

    namespace, _ = connection_namespace(str(ref.conn_id))
    *schema, name = ref.parts
    mysql = namespace.startswith("mysql://")
    if mysql:
        owner = ref.database or connection_namespace(str(ref.conn_id))[1]
    else:
        owner = schema[-1] if schema else ("dbo" if namespace.startswith("mssql://") else "public")
    conn = BaseHook.get_connection(str(ref.conn_id)).get_hook().get_conn()
    try:
        cur = conn.cursor()
        cur.execute(COLUMNS_SQL.format(type="column_type" if mysql else "data_type"), (owner, name))
        rows = cur.fetchall()
        cur.close()
    finally:
        conn.close()
    return tuple((str(n), str(t.decode() if isinstance(t, bytes) else t)) for n, t in rows)


def to_openlineage(ref: DatasetRef, output: bool) -> Any:
    """The OpenLineage input or output dataset of ``ref``, with its schema and output statistics facets."""
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import output_statistics_output_dataset, schema_dataset

    namespace, name = resolve(ref)
    if ref.describe and not ref.columns:
        ref = replace(ref, columns=describe_columns(ref))
    facets: dict[str, Any] = {}
    if ref.columns:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in ref.columns])
    if not output:
        return InputDataset(namespace=namespace, name=name, facets=facets)
    output_facets = {} if ref.rows is None else {
        "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=ref.rows)}
    return OutputDataset(namespace=namespace, name=name, facets=facets, outputFacets=output_facets)


def _replace_declared(current: Any, refs: Sequence[DatasetRef], output: bool) -> list[Any]:
    from openlineage.client.event_v2 import Dataset

    kept = [item for item in (current or []) if not isinstance(item, Dataset)]
    return kept + [to_openlineage(ref, output) for ref in refs]


def declare(inputs: Iterable[DatasetRef] | None = None, outputs: Iterable[DatasetRef] | None = None,
            task: Any = None) -> None:
    """Set the running task's OpenLineage inputs and/or outputs (``None`` leaves that side as it is).

    ``task`` is the operator (``self`` in an operator's method); a ``@task`` body leaves it out. Never
    raises: lineage must not fail the work it describes."""
    if not enabled():
        return
    try:
        if task is None:
            from airflow.sdk import get_current_context

            task = get_current_context()["task"]
        if inputs is not None:
            task.inlets = _replace_declared(task.inlets, list(inputs), output=False)
        if outputs is not None:
            task.outlets = _replace_declared(task.outlets, list(outputs), output=True)
    except Exception as exc:  # a missing connection or an odd one: the events go out without these datasets
        log.warning("OpenLineage datasets not declared (%s: %s)", type(exc).__name__, str(exc)[:200])


def operator_lineage(inputs: Iterable[DatasetRef], outputs: Iterable[DatasetRef]) -> Any:
    """An ``OperatorLineage`` for an operator's ``get_openlineage_facets_on_complete``."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(inputs=[to_openlineage(ref, output=False) for ref in inputs],
                           outputs=[to_openlineage(ref, output=True) for ref in outputs])
