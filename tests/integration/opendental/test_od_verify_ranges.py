"""Content verification on real MariaDB: a FLOAT's 7th digit, composite-key deletes, rolling coverage, and
the look-back re-sync by business date through the real stage bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.common.paths import read_sql
from pipelines.opendental.config import Settings
from pipelines.opendental.extract import extract_table
from pipelines.opendental.load import load_table
from pipelines.opendental.schema import describe
from pipelines.opendental.tablerun import Counts
from pipelines.opendental.tasks import plan_tables
from pipelines.opendental.transform import transform_table
from pipelines.opendental.validation import record
from pipelines.opendental.verify import differing_keys, verify_and_repair
from tests.integration.opendental.odsupport import fixture_ddl, seed

pytestmark = pytest.mark.integration

DDL = ("CREATE TABLE t (PatNum bigint NOT NULL, Ordinal int NOT NULL, Ratio float NOT NULL, Note varchar(20), "
       "PRIMARY KEY (PatNum, Ordinal)) ENGINE=MyISAM")
EXACT = "SELECT PatNum, Ordinal, Ratio + 0e0, Note FROM t ORDER BY PatNum, Ordinal"


def run_sql(db, *statements):
    conn = db.connect()
    try:
        for sql in statements:
            conn.cursor().execute(sql)
    finally:
        conn.close()


def both(stack, *statements):
    for db in (stack.source, stack.replica):
        run_sql(db, *statements)


def verify(stack, every_nights=1, night=0):
    source, replica = stack.source.connect(), stack.replica.connect()
    try:
        schema = describe(source.cursor(), "t")
        return verify_and_repair(source, replica, schema, every_nights=every_nights, night=night, chunk_width=1000)
    finally:
        source.close()
        replica.close()


def test_a_change_in_the_seventh_digit_of_a_float_is_seen(stack):
    both(stack, DDL, "INSERT INTO t SELECT seq DIV 4, seq MOD 4, 1.234567, 'n' FROM seq_0_to_3999")
    run_sql(stack.source, "UPDATE t SET Ratio = 1.234568 WHERE PatNum = 500 AND Ordinal = 3")
    printed = "SELECT Ratio FROM t WHERE PatNum = 500 AND Ordinal = 3"
    assert stack.mysql_rows(stack.source, printed) == stack.mysql_rows(stack.replica, printed)  # both 1.23457
    source, replica = stack.source.connect(), stack.replica.connect()
    try:
        stale, gone, compared = differing_keys(source, replica, describe(source.cursor(), "t"), (0, 999), 1000)
    finally:
        source.close()
        replica.close()

    assert (stale, gone, compared) == ([("500", "3")], [], 4000)


def test_rows_changed_and_deleted_in_a_composite_key_table_are_repaired_and_remembered(stack):
    both(stack, DDL, "INSERT INTO t SELECT seq DIV 4, seq MOD 4, 0.5, CONCAT('n', seq) FROM seq_0_to_3999")
    run_sql(stack.source, "UPDATE t SET Note = NULL WHERE PatNum = 7 AND Ordinal = 0",
            "UPDATE t SET Note = 'N1' WHERE PatNum = 600 AND Ordinal = 1",
            "DELETE FROM t WHERE (PatNum, Ordinal) IN ((0, 0), (999, 3))")

    outcome = verify(stack)

    assert (outcome.rows, outcome.repaired, outcome.deleted) == (3998, 2, 2)
    assert stack.mysql_rows(stack.replica, EXACT) == stack.mysql_rows(stack.source, EXACT)
    assert sorted(stack.mysql_rows(stack.replica, "SELECT key_text FROM etl_resync_keys")) == [
        ('["0", "0"]',), ('["600", "1"]',), ('["7", "0"]',), ('["999", "3"]',)]
    assert verify(stack).repaired == 0


def test_a_rolling_share_verifies_each_part_of_the_key_span_on_its_own_night(stack):
    both(stack, DDL, "INSERT INTO t SELECT seq, 0, 1, 'x' FROM seq_1_to_1000")
    run_sql(stack.source, "UPDATE t SET Note = 'changed' WHERE PatNum IN (10, 990)")

    first = verify(stack, every_nights=2, night=0)
    second = verify(stack, every_nights=2, night=1)

    assert (first.rows, first.repaired) == (500, 1)
    assert (second.rows, second.repaired) == (500, 1)
    assert stack.mysql_rows(stack.replica, EXACT) == stack.mysql_rows(stack.source, EXACT)


def nightly(settings):
    (plan,) = plan_tables({"tables": ["procedurelog"]}, settings)
    return transform_table(load_table(extract_table(plan, settings), settings), settings)


def test_look_back_re_reads_recent_business_dates_without_verification(stack):
    seed(stack.source, fixture_ddl(["procedurelog"]), rows=100)
    recent = (datetime.now(UTC).date() - timedelta(days=3)).isoformat()
    run_sql(stack.source, "UPDATE procedurelog SET DateTStamp = IF(ProcNum = 1, '2025-06-01', '2024-01-02'), "
            f"ProcDate = IF(ProcNum = 5, '{recent}', '2020-01-01')")
    settings = Settings(verify={"every_nights": 0},
                        tables={"procedurelog": {"lookback": {"column": "ProcDate", "days": 30}}})
    nightly(settings)
    run_sql(stack.source, "UPDATE procedurelog SET ProcStatus = 7, DateTStamp = DateTStamp WHERE ProcNum IN (5, 6)")

    run = nightly(settings)

    assert run.lookback is not None
    assert stack.mysql_rows(stack.replica, "SELECT ProcNum, ProcStatus FROM procedurelog WHERE ProcNum IN (5, 6) "
                            "ORDER BY ProcNum")[0] == (5, 7)
    assert stack.pg_rows('SELECT "ProcStatus" FROM raw.procedurelog WHERE "ProcNum" = 5') == [(7,)]
    assert stack.pg_rows("SELECT proc_status FROM public.procedurelog WHERE proc_num = 5") == [(7,)]
    # ProcNum 6's business date is years old and verification is off: the look-back does not reach it.
    assert stack.pg_rows("SELECT proc_status FROM public.procedurelog WHERE proc_num = 6") != [(7,)]


def test_an_existing_validation_table_gets_the_verification_columns_appended(stack):
    """A replica whose etl_run_validation predates verification keeps its rows; the new counts are added
    at the end and recorded."""
    old_table = read_sql("mysql/opendental/validation_table.sql").split("  `verified_rows`")[0] + \
        "  PRIMARY KEY (`run_id`, `table_name`)\n) ENGINE=InnoDB"
    run_sql(stack.replica, old_table, "INSERT INTO etl_run_validation (run_id, table_name, strategy, replica_rows, "
            "raw_rows, public_rows, ok, checked_at) VALUES ('old', 't', 'full', 1, 1, 1, 1, UTC_TIMESTAMP())")
    counts = Counts(table="t", strategy="incremental", mode="incremental", source_rows=5, replica_rows=5,
                    raw_rows=5, public_rows=5, verified_rows=5, repaired_replica=2, repaired_raw=2,
                    repaired_public=2)

    record(counts, "new", [])

    columns = stack.mysql_rows(stack.replica, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
                               "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'etl_run_validation' "
                               "ORDER BY ORDINAL_POSITION")
    names = [c for (c,) in columns]
    after_old = names[names.index("checked_at") + 1:]  # appended after every column the older table had
    assert after_old[:4] == ["verified_rows", "repaired_replica", "repaired_raw", "repaired_public"]
    assert stack.mysql_rows(stack.replica, "SELECT run_id, verified_rows, repaired_replica, repaired_raw, "
                            "repaired_public FROM etl_run_validation ORDER BY run_id") == [
        ("new", 5, 2, 2, 2), ("old", 0, 0, 0, 0)]


def test_keys_stay_pending_until_the_stage_that_did_not_finish_runs_again(stack):
    """Transform did not run after load (failed, or the worker died): raw is repaired, public not yet, the
    keys are still pending; the rerun of transform repairs public and only then forgets them."""
    seed(stack.source, fixture_ddl(["procedurelog"]), rows=100)
    run_sql(stack.source, "UPDATE procedurelog SET DateTStamp = IF(ProcNum = 1, '2025-06-01', '2024-01-02')")
    settings = Settings()
    nightly(settings)
    run_sql(stack.source, "UPDATE procedurelog SET ProcStatus = 7, DateTStamp = DateTStamp WHERE ProcNum = 9")
    (plan,) = plan_tables({"tables": ["procedurelog"]}, settings)

    loaded = load_table(extract_table(plan, settings), settings)

    assert stack.pg_rows('SELECT "ProcStatus" FROM raw.procedurelog WHERE "ProcNum" = 9') == [(7,)]
    assert stack.pg_rows("SELECT proc_status FROM public.procedurelog WHERE proc_num = 9") != [(7,)]
    assert stack.mysql_rows(stack.replica, "SELECT key_text FROM etl_resync_keys") == [('["9"]',)]

    transformed = transform_table(loaded, settings)

    assert transformed.repaired("transform") == 1
    assert stack.pg_rows("SELECT proc_status FROM public.procedurelog WHERE proc_num = 9") == [(7,)]
    assert stack.mysql_rows(stack.replica, "SELECT key_text FROM etl_resync_keys") == []
