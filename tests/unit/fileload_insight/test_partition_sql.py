"""The lock statements exist for SQL Server and its PostgreSQL stand-in, with the same parameters, so the
integration tests on PostgreSQL exercise the same protocol that runs on SQL Server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SQL = Path(__file__).resolve().parents[3] / "include" / "sql"
MSSQL, POSTGRES = SQL / "mssql" / "fileload_insight", SQL / "postgres" / "fileload_insight"
STATEMENTS = sorted(path.name for path in POSTGRES.glob("*.sql"))
PARAMETER = re.compile(r"%\((\w+)\)s")


def test_every_statement_exists_for_both_engines():
    assert sorted(path.name for path in MSSQL.glob("*.sql")) == STATEMENTS
    assert {"take_run_lock.sql", "release_run_lock.sql", "set_lock_flag.sql", "clear_lock_flag.sql"} <= set(STATEMENTS)


@pytest.mark.parametrize("name", STATEMENTS)
def test_both_engines_take_the_same_parameters(name):
    assert set(PARAMETER.findall((MSSQL / name).read_text())) == set(PARAMETER.findall((POSTGRES / name).read_text()))


@pytest.mark.parametrize("name", STATEMENTS)
def test_each_file_speaks_its_own_dialect(name):
    tsql, pg = (MSSQL / name).read_text(), (POSTGRES / name).read_text()

    # CURRENT_TIMESTAMP is T-SQL too, but local server time there: lock ages must use SYSUTCDATETIME().
    for postgres_only in ("ON CONFLICT", "EXTRACT(EPOCH", "TIMESTAMPTZ", "CURRENT_TIMESTAMP"):
        assert postgres_only not in tsql
    for tsql_only in ("UPDLOCK", "SYSUTCDATETIME", "DATEDIFF", "dbo.", "NVARCHAR"):
        assert tsql_only not in pg


def test_tsql_takes_the_run_lock_atomically():
    take = (MSSQL / "take_run_lock.sql").read_text()

    assert "WITH (UPDLOCK, HOLDLOCK)" in take
    assert "WHERE NOT EXISTS" in take
