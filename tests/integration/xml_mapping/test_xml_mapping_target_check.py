"""Existing target tables checked against the contracts before the first batch: a column that would refuse,
cut or round a value refuses the partition with one line naming every such column, before any row is written;
the CLI's ``--check-schema`` and the DAG's plan step only report."""

from __future__ import annotations

import json
import logging

import pytest

from pipelines.common.paths import config_path
from pipelines.xml_mapping import tasks
from pipelines.xml_mapping.cli import main
from pipelines.xml_mapping.partition import MappingSpec, map_partition
from pipelines.xml_mapping.target_tables import TargetSchemaMismatch

pytestmark = pytest.mark.integration

# A shorter string, a decimal retyped as an integer, NOT NULL where the contract allows NULL, a missing column.
DBA_CHANGES = """
ALTER TABLE migration.application ALTER COLUMN campaign_num TYPE varchar(3);
ALTER TABLE migration.application_operations ALTER COLUMN housing_payment_pr TYPE integer;
ALTER TABLE migration.applicant ALTER COLUMN home_phone SET NOT NULL;
ALTER TABLE migration.application_operations DROP COLUMN risk_band;
"""
MISMATCHES = [
    "application.campaign_num: VARCHAR(6) NOT NULL vs VARCHAR(3) NOT NULL",
    "applicant.home_phone: VARCHAR(10) NULL vs VARCHAR(10) NOT NULL",
    "application_operations.risk_band: VARCHAR(20) NULL vs (missing)",
    "application_operations.housing_payment_pr: NUMERIC(18, 2) NULL vs INTEGER NULL",
]


def contract_args() -> list[str]:
    return [arg for name in ("example_cc.json", "example_rl.json")
            for arg in ("--contract", str(config_path(f"xml_mapping/{name}")))]


def alter(mapping_db, sql: str) -> None:
    with mapping_db.engine.begin() as conn:
        conn.exec_driver_sql(sql)


def test_a_shorter_or_retyped_column_refuses_the_partition_before_any_row(mapping_db):
    alter(mapping_db, DBA_CHANGES)

    with pytest.raises(TargetSchemaMismatch) as refused:
        map_partition(mapping_db.engine, mapping_db.contracts, mapping_db.target, MappingSpec(batch=10))

    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("4 column(s) of schema migration do not match the contracts: ")
    assert sorted(message.split(": ", 1)[1].split("; ")) == sorted(MISMATCHES)
    assert set(mapping_db.counts().values()) == {0}  # nothing written, processing_log included


def test_the_cli_refuses_with_the_one_line_and_writes_nothing(mapping_db, capsys):
    alter(mapping_db, DBA_CHANGES)

    assert main(["--url", mapping_db.db.url, *contract_args(), "--batch", "10"]) == 1

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("xml mapping failed (rem=0/1): 4 column(s) of schema migration")
    assert all(line in err[0] for line in MISMATCHES)
    assert set(mapping_db.counts().values()) == {0}


def test_wider_columns_and_null_where_the_contract_says_not_null_are_accepted(mapping_db):
    alter(mapping_db, """
        ALTER TABLE migration.application ALTER COLUMN campaign_num TYPE varchar(200);
        ALTER TABLE migration.application ALTER COLUMN campaign_num DROP NOT NULL;
        ALTER TABLE migration.application ALTER COLUMN app_source_enum TYPE bigint;
        ALTER TABLE migration.application_operations ALTER COLUMN housing_payment_pr TYPE numeric(24, 2);
        ALTER TABLE migration.application_operations ALTER COLUMN risk_band TYPE text;
    """)

    metrics = map_partition(mapping_db.engine, mapping_db.contracts, mapping_db.target, MappingSpec(batch=10))

    assert metrics.succeeded == mapping_db.documents


def test_check_schema_reports_and_writes_nothing(mapping_db, capsys):
    assert main(["--url", mapping_db.db.url, *contract_args(), "--check-schema"]) == 0
    clean = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (clean["missing_tables"], clean["mismatched_columns"]) == ([], [])

    alter(mapping_db, DBA_CHANGES + "DROP TABLE migration.indicators;")

    assert main(["--url", mapping_db.db.url, *contract_args(), "--check-schema"]) == 1
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["missing_tables"] == ["indicators"]
    assert sorted(report["mismatched_columns"]) == sorted(MISMATCHES)
    assert mapping_db.scalar("SELECT to_regclass('migration.indicators')") is None  # not created
    assert mapping_db.scalar("SELECT COUNT(*) FROM migration.processing_log") == 0


def test_the_plan_step_logs_the_report_without_refusing(mapping_db, capsys, caplog):
    alter(mapping_db, DBA_CHANGES)
    caplog.set_level(logging.INFO, logger=tasks.__name__)

    entries = tasks.plan({"workers": 2, "batch": 10, "limit": 0, "remainders": None, "retry_failed": False})

    assert [entry["rem"] for entry in entries] == [0, 1]
    logged = capsys.readouterr().out + caplog.text  # structlog's console once Airflow configured logging
    assert "Target schema migration: 0 of 15 tables to create" in logged
    assert all(f"(its partitions will be refused): {line}" in logged for line in MISMATCHES)
