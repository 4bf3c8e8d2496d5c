"""The Glue Data Catalog side of the partitioned pipeline: which ``part_*`` tables exist, and the
Athena ``MSCK REPAIR TABLE`` statement for each of them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pipelines.common.identifiers import is_identifier
from pipelines.common.paths import read_sql

MSCK_SQL = "athena/flywheel/msck_repair_table.sql"
# Label of a mapped MSCK task in the UI: the table name, the last word of its statement.
MSCK_LABEL_TEMPLATE = "{{ task.query.split()[-1].strip('`') }}"


def glue_client(aws_conn_id: str) -> Any:
    """A Glue client through the Airflow connection ``aws_conn_id``."""
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    return GlueCatalogHook(aws_conn_id=aws_conn_id).conn


def catalog_table_names(glue_client: Any, database: str) -> list[str]:
    """Every table name of ``database`` in the Glue Data Catalog (all pages)."""
    names: list[str] = []
    for page in glue_client.get_paginator("get_tables").paginate(DatabaseName=database):
        names.extend(table["Name"] for table in page.get("TableList", []))
    return names


def select_part_tables(names: Iterable[str], prefix: str, tables_filter: Sequence[str] = ()) -> list[str]:
    """The ``prefix`` tables, optionally narrowed to ``tables_filter`` (given with or without the prefix).

    A name that is not a plain identifier is left out: it could not be quoted safely into DDL."""
    wanted = set(tables_filter)
    selected = []
    for name in names:
        if not name.startswith(prefix) or not is_identifier(name):
            continue
        if wanted and name not in wanted and name.removeprefix(prefix) not in wanted:
            continue
        selected.append(name)
    return sorted(selected)


def msck_repair_statement(table: str) -> str:
    if not is_identifier(table):
        raise ValueError(f"refusing to build MSCK REPAIR for table name {table[:40]!r}")
    statement = read_sql(MSCK_SQL)
    body = "\n".join(line for line in statement.splitlines() if not line.lstrip().startswith("--"))
    return body.strip().format(table=table)


def msck_repair_kwargs(tables: Sequence[str], *, database: str, output_location: str, workgroup: str
                       ) -> list[dict[str, str]]:
    """``expand_kwargs`` input of the mapped AthenaOperator: one MSCK statement per table."""
    return [
        {"query": msck_repair_statement(table), "database": database, "output_location": output_location,
         "workgroup": workgroup}
        for table in tables
    ]
