"""Rows changed in place at the source without their watermark moving (and rows deleted from composite-key
tables) are found by the nightly content verification and repaired in the replica, raw and public in the
same run; the run's validation record and summary count them."""

from __future__ import annotations

import pytest

from tests.integration.opendental.odsupport import differences, fixture_ddl, seed

pytestmark = pytest.mark.integration

ROWS = 120
# procedurelog: incremental, single integer key; definition: append-only; patplan_x: incremental on a
# composite key led by an integer column; codepair_x: incremental on a text-only composite key (hashed ranges).
COMPOSITE_DDL = [
    "CREATE TABLE patplan_x (PatNum bigint NOT NULL, Ordinal int NOT NULL, Note varchar(40) DEFAULT NULL, "
    "Ratio double NOT NULL, DateTStamp timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(), "
    "PRIMARY KEY (PatNum, Ordinal)) ENGINE=MyISAM DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE codepair_x (Code varchar(8) NOT NULL, Kind varchar(8) NOT NULL, Val double NOT NULL, "
    "DateTStamp timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(), "
    "PRIMARY KEY (Code, Kind)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
]
TABLES = ["procedurelog", "definition", "patplan_x", "codepair_x"]
RUN = {"allow_business_hours": True, "tables": TABLES, "force": False, "dry_run": False, "parallel": 2}
STAMP = "'2024-01-02 03:04:05'"  # an old watermark: the incremental window never reaches these rows again
NEWER = "'2025-06-01 00:00:00'"  # one row per table moves the stored watermark past STAMP
# Exact text of every column, as the source holds it (FLOAT widened so its 7th digit shows).
EXACT = {
    "procedurelog": "SELECT ProcNum, ProcStatus, ProcFee, DrugQty + 0e0 FROM procedurelog ORDER BY ProcNum",
    "definition": "SELECT DefNum, ItemName, ItemValue FROM definition ORDER BY DefNum",
    "patplan_x": "SELECT PatNum, Ordinal, Note, Ratio, DateTStamp FROM patplan_x ORDER BY PatNum, Ordinal",
    "codepair_x": "SELECT Code, Kind, Val, DateTStamp FROM codepair_x ORDER BY Code, Kind",
}


def seed_composites(stack) -> None:
    conn = stack.source.connect()
    try:
        cur = conn.cursor()
        for ddl in COMPOSITE_DDL:
            cur.execute(ddl)
        cur.execute(f"INSERT INTO patplan_x SELECT seq DIV 3, seq MOD 3, CONCAT('n', seq), 1.234567, {STAMP} "
                    "FROM seq_0_to_299")
        cur.execute(f"INSERT INTO codepair_x SELECT CONCAT('c', seq DIV 4), CONCAT('k', seq MOD 4), seq / 7, {STAMP} "
                    "FROM seq_0_to_199")
    finally:
        conn.close()


def change_in_place(stack) -> None:
    """Edits that keep every watermark where it was (OpenDental's ProcStatus finding), and deletes."""
    conn = stack.source.connect()
    try:
        cur = conn.cursor()
        cur.execute("UPDATE procedurelog SET ProcStatus = 2, ProcFee = ProcFee + 1000, DateTStamp = DateTStamp "
                    "WHERE ProcNum IN (3, 50, 99)")
        cur.execute("UPDATE definition SET ItemName = 'renamed in place' WHERE DefNum IN (7, 8)")
        # A change in the 8th significant digit only.
        cur.execute("UPDATE patplan_x SET Ratio = 1.2345671, DateTStamp = DateTStamp WHERE PatNum = 10 AND Ordinal = 1")
        cur.execute("UPDATE patplan_x SET Note = NULL, DateTStamp = DateTStamp WHERE PatNum = 40 AND Ordinal = 2")
        cur.execute("DELETE FROM patplan_x WHERE (PatNum, Ordinal) IN ((5, 0), (5, 1), (77, 2))")
        cur.execute("UPDATE codepair_x SET Val = -Val, DateTStamp = DateTStamp WHERE Code = 'c9' AND Kind = 'k2'")
        cur.execute("DELETE FROM codepair_x WHERE Code = 'c30'")
    finally:
        conn.close()


def test_rows_changed_in_place_and_composite_deletes_reach_every_stage_in_one_run(stack, nightly_dag, dag_runner):
    seed(stack.source, fixture_ddl(["procedurelog", "definition"]), rows=ROWS)
    seed_composites(stack)
    conn = stack.source.connect()
    cur = conn.cursor()
    cur.execute(f"UPDATE procedurelog SET DateTStamp = IF(ProcNum = 1, {NEWER}, {STAMP})")
    cur.execute(f"UPDATE patplan_x SET DateTStamp = {NEWER} WHERE PatNum = 0 AND Ordinal = 0")
    cur.execute(f"UPDATE codepair_x SET DateTStamp = {NEWER} WHERE Code = 'c0' AND Kind = 'k0'")
    conn.close()
    assert dag_runner(nightly_dag, RUN).state == "success"
    change_in_place(stack)

    result = dag_runner(nightly_dag, RUN)

    assert result.state == "success", result.task_states
    modes = {v["table"]: v["mode"] for v in (result.xcom("opendental_nightly", "copy_table", i) for i in range(4))}
    assert modes == {"procedurelog": "incremental", "definition": "append_only", "patplan_x": "incremental",
                     "codepair_x": "incremental"}
    for table in TABLES:
        assert stack.mysql_rows(stack.replica, EXACT[table]) == stack.mysql_rows(stack.source, EXACT[table]), table
        assert differences(stack, table) == [], table
        assert stack.counts(table)["public"] == stack.counts(table)["source"], table
    public = stack.pg_rows("SELECT proc_num, proc_status, proc_fee FROM public.procedurelog "
                           "WHERE proc_num IN (3, 50, 99) ORDER BY proc_num")
    source = stack.mysql_rows(stack.source, "SELECT ProcNum, ProcStatus, ROUND(ProcFee, 2) FROM procedurelog "
                              "WHERE ProcNum IN (3, 50, 99) ORDER BY ProcNum")
    assert [(k, s, float(f)) for k, s, f in public] == [(k, s, float(f)) for k, s, f in source]
    assert [s for _, s, _ in public] == [2, 2, 2]
    assert stack.pg_rows("SELECT item_name FROM public.definition WHERE def_num IN (7, 8)") == [
        ("renamed in place",), ("renamed in place",)]
    assert stack.pg_rows("SELECT note FROM public.patplan_x WHERE pat_num = 40 AND ordinal = 2") == [(None,)]
    assert stack.pg_rows("SELECT count(*) FROM public.patplan_x WHERE (pat_num, ordinal) IN "
                         "((5, 0), (5, 1), (77, 2))") == [(0,)]
    assert stack.pg_rows("SELECT count(*) FROM public.codepair_x WHERE code = 'c30'") == [(0,)]
    assert stack.pg_rows("SELECT val FROM public.codepair_x WHERE code = 'c9' AND kind = 'k2'") == \
        stack.mysql_rows(stack.source, "SELECT Val FROM codepair_x WHERE Code = 'c9' AND Kind = 'k2'")

    recorded = stack.mysql_rows(stack.replica, "SELECT table_name, verified_rows, repaired_replica, repaired_raw, "
                                "repaired_public, deleted_replica, deleted_raw, deleted_public, ok FROM "
                                "etl_run_validation WHERE run_id = %s ORDER BY table_name", [result.run_id])
    assert recorded == [
        ("codepair_x", 196, 1, 1, 1, 4, 4, 4, 1),
        ("definition", ROWS, 2, 2, 2, 0, 0, 0, 1),
        ("patplan_x", 297, 2, 2, 2, 3, 3, 3, 1),
        ("procedurelog", ROWS, 3, 3, 3, 0, 0, 0, 1),
    ]
    summary = {row["table"]: row for row in result.xcom("opendental_nightly", "summary")}
    assert summary["procedurelog"]["repaired"] == {"replica": 3, "raw": 3, "public": 3}
    assert summary["patplan_x"]["deleted"] == {"replica": 3, "raw": 3, "public": 3}
    assert stack.replica.scalar("SELECT COUNT(*) FROM etl_resync_keys") == 0  # every stage has them

    rerun = dag_runner(nightly_dag, RUN)

    assert rerun.state == "success"
    assert {row["table"]: row["repaired"]["replica"] for row in rerun.xcom("opendental_nightly", "summary")} == \
        dict.fromkeys(TABLES, 0)
