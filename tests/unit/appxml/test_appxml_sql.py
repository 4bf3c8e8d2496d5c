"""The SQL each engine receives: T-SQL compiled for the mssql dialect, the SQL files, and PostgreSQL."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy.schema import CreateTable

from pipelines.appxml import ddl
from pipelines.appxml import tables as t
from pipelines.common.database.bulk import rows_per_insert
from pipelines.common.database.tables import TableName, TableNameError
from tests.support.appxml_checks import compile_sql, dialect_for

SOURCE = TableName.parse("dbo.app_xml")
STAGING = TableName.parse("dbo.app_xml_staging")


def mssql(statement) -> str:
    return " ".join(compile_sql(statement, "mssql").split())


def test_keyset_batch_is_top_with_bracket_quoting_on_sql_server():
    src = t.source_table(SOURCE, "app_XML", "mssql")

    sql = mssql(t.select_batch(src, "app_XML", 8, 3, 1000, 500))

    assert sql == ("SELECT TOP 500 dbo.app_xml.app_id, dbo.app_xml.[app_XML] FROM dbo.app_xml "
                   "WHERE dbo.app_xml.app_id % 8 = 3 AND dbo.app_xml.app_id > 1000 ORDER BY dbo.app_xml.app_id")


def test_staging_table_ddl_for_sql_server():
    sql = " ".join(str(CreateTable(t.staging_table(STAGING, "mssql")).compile(dialect=dialect_for("mssql"))).split())

    assert "CREATE TABLE dbo.app_xml_staging" in sql
    assert "[app_XML] NVARCHAR(max) NULL" in sql
    assert "extracted_at DATETIME2 NOT NULL DEFAULT SYSUTCDATETIME()" in sql
    assert "PRIMARY KEY (app_id)" in sql


def test_partition_statements_for_sql_server():
    stg = t.staging_table(STAGING, "mssql")

    assert mssql(t.max_staged(stg, 4, 1)) == (
        "SELECT max(dbo.app_xml_staging.app_id) AS max_1 FROM dbo.app_xml_staging "
        "WHERE dbo.app_xml_staging.app_id % 4 = 1")
    assert mssql(t.delete_range(stg, 4, 1, 5, 41)) == (
        "DELETE FROM dbo.app_xml_staging WHERE dbo.app_xml_staging.app_id BETWEEN 5 AND 41 "
        "AND dbo.app_xml_staging.app_id % 4 = 1")


def test_mssql_sql_files_render_t_sql():
    dialect = dialect_for("mssql")

    create = " ".join(" ".join(ddl.render_sql("create_staging_table.sql", dialect, STAGING)).split())
    drop = ddl.render_sql("drop_index.sql", dialect, STAGING)
    index = " ".join(ddl.render_sql("create_index.sql", dialect, STAGING)[0].split())

    assert create.startswith("IF OBJECT_ID(N'dbo.app_xml_staging', N'U') IS NULL CREATE TABLE dbo.app_xml_staging (")
    assert "[app_XML] NVARCHAR(MAX) NULL" in create
    assert "DEFAULT (SYSUTCDATETIME())" in create
    assert drop == ["DROP INDEX IF EXISTS [IX_app_xml_staging_app_id] ON dbo.app_xml_staging"]
    assert index.endswith("CREATE INDEX [IX_app_xml_staging_app_id] ON dbo.app_xml_staging (app_id)")
    assert "name = N'IX_app_xml_staging_app_id'" in index


def test_the_progress_table_and_its_statements_in_t_sql():
    create = " ".join(" ".join(ddl.render_sql("create_progress_table.sql", dialect_for("mssql"),
                                              t.progress_name(STAGING))).split())
    progress = t.progress_table(STAGING, "mssql")

    assert create.startswith("IF OBJECT_ID(N'dbo.app_xml_staging_progress', N'U') IS NULL "
                             "CREATE TABLE dbo.app_xml_staging_progress (")
    assert "finished BIT NOT NULL" in create
    assert create.endswith("PRIMARY KEY (modulus, remainder) )")
    assert [mssql(statement) for statement in t.record_partition(progress, 8, 3, True)] == [
        "DELETE FROM dbo.app_xml_staging_progress WHERE dbo.app_xml_staging_progress.modulus = 8 "
        "AND dbo.app_xml_staging_progress.remainder = 3",
        "INSERT INTO dbo.app_xml_staging_progress (modulus, remainder, finished) VALUES (8, 3, 1)",
    ]
    assert mssql(t.partitions_of_other_moduli(progress, 8)).endswith(
        "FROM dbo.app_xml_staging_progress WHERE dbo.app_xml_staging_progress.modulus != 8")
    # SQL Server groups by what it selects only when both are one expression: the subquery's column.
    assert mssql(t.max_staged_per_remainder(t.staging_table(STAGING, "mssql"), 8)) == (
        "SELECT anon_1.remainder, max(anon_1.app_id) AS max_1 FROM (SELECT dbo.app_xml_staging.app_id % 8 AS "
        "remainder, dbo.app_xml_staging.app_id AS app_id FROM dbo.app_xml_staging) AS anon_1 "
        "GROUP BY anon_1.remainder")


def test_postgres_quotes_the_mixed_case_column_and_uses_limit():
    src = t.source_table(SOURCE, "app_XML", "postgresql")

    sql = " ".join(compile_sql(t.select_batch(src, "app_XML", 8, 3, None, 500), "postgresql").split())
    files = ddl.render_sql("create_staging_table.sql", dialect_for("postgresql"), STAGING)

    assert sql.startswith('SELECT dbo.app_xml.app_id, dbo.app_xml."app_XML" FROM dbo.app_xml')
    assert sql.endswith("LIMIT 500")
    assert files[0] == "CREATE SCHEMA IF NOT EXISTS dbo"
    assert '"app_XML" text NULL' in files[1]


@pytest.mark.parametrize("bad", ["dbo.app xml", "a.b.c", "dbo.app_xml; DROP TABLE x", "", "[dbo].[t]"])
def test_table_names_must_be_plain_identifiers(bad):
    with pytest.raises(TableNameError, match="not a valid table name"):
        TableName.parse(bad)


def test_sqlite_has_no_schema():
    assert t.staging_table(STAGING, "sqlite").schema is None
    assert re.search(r"CURRENT_TIMESTAMP", str(CreateTable(t.staging_table(STAGING, "sqlite")).compile(
        dialect=sa.dialects.sqlite.dialect())))


def test_bulk_insert_for_pymssql_is_one_multi_row_statement():
    stg = t.staging_table(STAGING, "mssql")

    sql = mssql(sa.insert(stg).values([{"app_id": 1, "app_XML": "<a/>"}, {"app_id": 2, "app_XML": "<b/>"}]))

    assert sql == "INSERT INTO dbo.app_xml_staging (app_id, [app_XML]) VALUES (1, N'<a/>'), (2, N'<b/>')"
    assert rows_per_insert(2) * 2 < 2100
    assert rows_per_insert(2) <= 1000
