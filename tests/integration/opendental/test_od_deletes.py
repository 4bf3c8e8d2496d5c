"""Rows deleted at the source leave the replica, raw and public in the next nightly run, for incremental,
append-only and full tables; the key-range comparison finds exactly the deleted keys."""

from __future__ import annotations

import pytest

from pipelines.opendental import deletes
from tests.integration.opendental.odsupport import differences, fixture_ddl, seed

pytestmark = pytest.mark.integration
# procedurelog: incremental (DateTStamp), definition: append-only (auto-increment key), preference: full
# (no primary key, a unique text name).
TABLES = ["procedurelog", "definition", "preference"]
RUN = {"allow_business_hours": True, "tables": TABLES, "force": False, "dry_run": False, "parallel": 2}
ROWS = 120
GONE = {"procedurelog": ("ProcNum", [1, 37, 38, 90, ROWS]), "definition": ("DefNum", [2, 64, ROWS])}
PUBLIC_KEY = {"ProcNum": "proc_num", "DefNum": "def_num", "PrefName": "pref_name"}


def delete_at_source(stack):
    """Deletes in all three tables; returns the keys gone, per table."""
    names = [row[0] for row in stack.mysql_rows(stack.source, "SELECT PrefName FROM preference ORDER BY PrefName "
                                                               "LIMIT 2")]
    conn = stack.source.connect()
    try:
        cur = conn.cursor()
        for table, (key, keys) in GONE.items():
            cur.execute(f"DELETE FROM `{table}` WHERE `{key}` IN ({', '.join(map(str, keys))})")
        cur.execute("DELETE FROM preference WHERE PrefName IN (%s, %s)", names)
        # A change in the same night: deletes and updates travel together.
        cur.execute("UPDATE procedurelog SET ProcFee = ProcFee + 1, DateTStamp = UTC_TIMESTAMP() WHERE ProcNum = 2")
    finally:
        conn.close()
    return {**GONE, "preference": ("PrefName", names)}


def present(stack, table, key, keys):
    """Which of ``keys`` each stage still holds."""
    keys = list(keys)
    return {
        "replica": stack.mysql_rows(stack.replica, f"SELECT `{key}` FROM `{table}` WHERE `{key}` IN %s", [keys]),
        "raw": stack.pg_rows(f'SELECT "{key}" FROM raw."{table}" WHERE "{key}" = ANY(%s)', [keys]),
        "public": stack.pg_rows(f"SELECT {PUBLIC_KEY[key]} FROM public.{table} WHERE {PUBLIC_KEY[key]} = ANY(%s)",
                                [keys]),
    }


def test_deleted_source_rows_leave_replica_raw_and_public_in_one_run(stack, nightly_dag, dag_runner):
    seed(stack.source, fixture_ddl(TABLES), rows=ROWS)
    assert dag_runner(nightly_dag, RUN).state == "success"
    gone = delete_at_source(stack)

    result = dag_runner(nightly_dag, RUN)

    assert result.state == "success", result.task_states
    modes = {v["table"]: v["mode"] for v in (result.xcom("opendental_nightly", "copy_table", i) for i in range(3))}
    assert modes == {"procedurelog": "incremental", "definition": "append_only", "preference": "full"}
    for table, (key, keys) in gone.items():
        assert present(stack, table, key, keys) == {"replica": [], "raw": [], "public": []}, table
        left = ROWS - len(keys)
        assert stack.counts(table) == dict.fromkeys(("source", "replica", "raw", "public"), left), table
        assert differences(stack, table) == []
    recorded = stack.mysql_rows(stack.replica, "SELECT table_name, deleted_replica, deleted_raw, deleted_public, ok "
                                "FROM etl_run_validation WHERE run_id = %s ORDER BY table_name", [result.run_id])
    # A full table is copied whole: its deletes need no detection, so none are counted.
    assert recorded == [("definition", 3, 3, 3, 1), ("preference", 0, 0, 0, 1), ("procedurelog", 5, 5, 5, 1)]
    summary = {row["table"]: row["deleted"] for row in result.xcom("opendental_nightly", "summary")}
    assert summary["procedurelog"] == {"replica": 5, "raw": 5, "public": 5}
    assert summary["definition"] == {"replica": 3, "raw": 3, "public": 3}
    assert stack.replica.scalar("SELECT COUNT(*) FROM etl_resync_keys") == 0  # every stage has them

    rerun = dag_runner(nightly_dag, RUN)

    assert rerun.state == "success"
    assert {row["table"]: row["deleted"]["replica"] for row in rerun.xcom("opendental_nightly", "summary")} == {
        "procedurelog": 0, "definition": 0, "preference": 0}


def test_key_ranges_are_bisected_down_to_the_deleted_keys(stack):
    """Sparse keys (every 1,000th up to 50 million) make the first ranges wide, so differing ranges are
    split again before any key is fetched; the result is exactly the deleted keys and the missing ones."""
    for db in (stack.source, stack.replica):
        conn = db.connect()
        conn.cursor().execute("CREATE TABLE t (k bigint NOT NULL PRIMARY KEY, v int) ENGINE=MyISAM")
        conn.cursor().execute("INSERT INTO t SELECT seq * 1000, 0 FROM seq_1_to_50000")
        conn.close()
    gone = [1000, 2_000_000, 2_001_000, 31_337_000, 50_000_000]
    conn = stack.source.connect()
    conn.cursor().execute(f"DELETE FROM t WHERE k IN ({', '.join(map(str, gone))})")
    conn.cursor().execute("INSERT INTO t VALUES (50000001, 0)")  # new at the source, not yet copied
    conn.close()
    source, replica = stack.source.connect(), stack.replica.connect()
    try:
        ranges = deletes.differing_ranges(source, replica, "t", "k")
        found = deletes.find_deleted(source, replica, "t", "k")
    finally:
        source.close()
        replica.close()

    assert found == (gone, 1)
    assert len(ranges) <= len(gone) + 1
    assert sum(high - low + 1 for low, high in ranges) <= (len(gone) + 1) * deletes.LEAF_WIDTH


def test_deletes_left_pending_by_an_older_release_still_reach_raw_and_public(stack, nightly_dag, dag_runner):
    """A replica upgraded from a release that kept pending deletes in ``etl_deleted_keys`` (integer keys) whose
    last run stopped after extract: the next run moves those keys into the one pending-keys table and removes
    the rows from raw and public; the old table is gone."""
    seed(stack.source, fixture_ddl(["definition"]), rows=ROWS)
    run = {**RUN, "tables": ["definition"]}
    assert dag_runner(nightly_dag, run).state == "success"
    conn = stack.source.connect()
    try:
        conn.cursor().execute("DELETE FROM definition WHERE DefNum IN (5, 6)")
    finally:
        conn.close()
    conn = stack.replica.connect()
    try:  # what the older extract left: the rows gone from the replica, their keys pending for raw and public
        cur = conn.cursor()
        cur.execute("DELETE FROM definition WHERE DefNum IN (5, 6)")
        cur.execute("CREATE TABLE etl_deleted_keys (table_name varchar(64) NOT NULL, key_value bigint NOT NULL, "
                    "found_at datetime NOT NULL, PRIMARY KEY (table_name, key_value))")
        cur.execute("INSERT INTO etl_deleted_keys VALUES ('definition', 5, UTC_TIMESTAMP()), "
                    "('definition', 6, UTC_TIMESTAMP())")
    finally:
        conn.close()

    assert dag_runner(nightly_dag, run).state == "success"

    assert present(stack, "definition", "DefNum", [5, 6]) == {"replica": [], "raw": [], "public": []}
    assert stack.counts("definition") == dict.fromkeys(("source", "replica", "raw", "public"), ROWS - 2)
    assert stack.replica.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                                "AND TABLE_NAME = 'etl_deleted_keys'") == 0
    assert stack.replica.scalar("SELECT COUNT(*) FROM etl_resync_keys") == 0
