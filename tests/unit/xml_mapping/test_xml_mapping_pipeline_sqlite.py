"""The partition worker's portable path (multi-row INSERT ... VALUES, as with pymssql on SQL Server) on SQLite,
and the T-SQL of its keyset read."""

from __future__ import annotations

import random
import re

import pytest
import sqlalchemy as sa

from devtools.xml_mapping.generator import staged_document
from devtools.xml_mapping.seed import stage_documents
from pipelines.appxml.tables import staging_table
from pipelines.common.database.tables import TableName
from pipelines.common.paths import config_path
from pipelines.xml_mapping.config import load_contracts
from pipelines.xml_mapping.errors import MappingRunError
from pipelines.xml_mapping.partition import MappingSpec, map_partition, select_batch
from pipelines.xml_mapping.target_tables import build_schema, ensure_schema
from tests.support.appxml_checks import compile_sql


@pytest.fixture
def contracts():
    return load_contracts([config_path(f"xml_mapping/example_{p}.json") for p in ("cc", "rl")])


@pytest.fixture
def engine(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'mapping.db'}")
    yield engine
    engine.dispose()


def test_multi_row_inserts_narrowing_and_rerun_on_sqlite(engine, contracts):
    rng = random.Random(2)
    target = build_schema(contracts, "sqlite")
    ensure_schema(engine, target)
    stage_documents(engine, [(app_id, staged_document(app_id, rng, product="rl" if app_id % 3 == 0 else "cc"))
                             for app_id in range(100, 140)])
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO scores (app_id, score_identifier, score) VALUES (118, 'FICO', 1)")

    metrics = map_partition(engine, contracts, target, MappingSpec(batch=16))

    assert (metrics.processed, metrics.succeeded, metrics.failed) == (40, 39, 1)
    with engine.connect() as conn:
        failed = "SELECT app_id, failure_reason FROM processing_log WHERE status = 'failed'"
        log = dict(conn.exec_driver_sql(failed).all())
        assert log == {118: "insertion: IntegrityError on scores"}
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM application").scalar() == 39
    assert map_partition(engine, contracts, target, MappingSpec(batch=16)).processed == 0


def test_the_keyset_read_in_tsql(contracts):
    target = build_schema(contracts, "mssql")
    source = staging_table(TableName("dbo", "app_xml_staging"), "mssql")
    spec = MappingSpec(mod=4, rem=3, batch=500)

    sql = " ".join(compile_sql(select_batch(source, "app_XML", target.processing_log, spec, 1200, 500),
                               "mssql").split())

    assert sql.startswith("SELECT TOP 500 dbo.app_xml_staging.app_id, dbo.app_xml_staging.[app_XML] FROM "
                          "dbo.app_xml_staging WHERE dbo.app_xml_staging.app_id % 4 = 3 AND NOT (EXISTS (SELECT 1")
    assert "WHERE migration.processing_log.app_id = dbo.app_xml_staging.app_id" in sql
    assert "migration.processing_log.status IN (N'success', N'failed')" in sql
    assert sql.endswith("AND dbo.app_xml_staging.app_id > 1200 ORDER BY dbo.app_xml_staging.app_id")
    retry = compile_sql(select_batch(source, "app_XML", target.processing_log, MappingSpec(retry_failed=True),
                                     None, 10), "mssql")
    assert "status IN (N'success')" in retry


@pytest.mark.parametrize(("spec", "message"), [
    (MappingSpec(mod=0), "mod (workers) must be at least 1"),
    (MappingSpec(mod=2, rem=2), "rem must lie in 0..1"),
    (MappingSpec(batch=0), "batch must be at least 1"),
    (MappingSpec(limit=-1), "limit must be 0"),
    (MappingSpec(source_table="dbo.x;drop"), "not a valid table name"),
])
def test_bad_settings_are_one_line_errors(spec, message):
    with pytest.raises(MappingRunError, match=re.escape(message)):
        spec.validated()
