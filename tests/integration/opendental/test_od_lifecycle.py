"""Night after night: a full first run, then only the changed rows move, a rerun changes nothing,
a dry run changes nothing anywhere, and force copies everything again. One DAG, five runs."""

from __future__ import annotations

import pytest

from devtools.opendental import generator
from tests.integration.opendental.odsupport import differences, fixture_ddl, seed

pytestmark = pytest.mark.integration
TABLES = ["procedurelog", "definition", "preference"]
# Every param given on every run: dag.test() keeps a previous run's conf values in the DAG's params.
RUN = {"allow_business_hours": True, "tables": TABLES, "force": False, "dry_run": False, "parallel": 2}
ROWS = 150


def moved(result, stage="extract"):
    """Rows each table moved in a stage, from the tasks' XComs (keyed by table)."""
    out = {}
    for index in range(len(TABLES)):
        value = result.xcom("opendental_nightly", "copy_table", index)
        assert value is not None, (stage, index, result.task_states)
        out[value["table"]] = (value["mode"], value["stages"][stage]["rows"])
    return out


def change_source(stack):
    """5 updated and 7 inserted procedures (stamped now, as OpenDental does), 4 new definitions."""
    conn = stack.source.connect()
    try:
        cur = conn.cursor()
        cur.execute("SET SESSION time_zone = '+00:00'")
        cur.execute("UPDATE procedurelog SET ProcFee = ProcFee + 1, DateTStamp = UTC_TIMESTAMP() "
                    "WHERE ProcNum <= 5")
        generator.fill_table(conn, "procedurelog", 7, seed=99)
        cur.execute("UPDATE procedurelog SET DateTStamp = UTC_TIMESTAMP() WHERE ProcNum > %s", [ROWS])
        generator.fill_table(conn, "definition", 4, seed=99)
    finally:
        conn.close()


def overlap_rows(stack):
    """Rows the 5-minute overlap re-reads: within 5 minutes of the stored watermark."""
    return stack.source.scalar(
        f"SELECT COUNT(*) FROM procedurelog WHERE ProcNum BETWEEN 6 AND {ROWS} AND DateTStamp >= "
        "(SELECT STR_TO_DATE(last_value, '%Y-%m-%d %H:%i:%s') - INTERVAL 5 MINUTE FROM "
        f"`{stack.replica.name}`.etl_table_state WHERE table_name = 'procedurelog')")


def snapshot(stack):
    state = stack.mysql_rows(stack.replica, "SELECT table_name, last_value, last_key, rows_copied, updated_at "
                                            "FROM etl_table_state ORDER BY table_name")
    public = stack.pg_rows("SELECT * FROM public.procedurelog ORDER BY proc_num")
    return state, public, {t: stack.counts(t) for t in TABLES}


def test_incremental_idempotent_dry_run_and_force(stack, nightly_dag, dag_runner):
    seed(stack.source, fixture_ddl(TABLES), rows=ROWS)
    first = dag_runner(nightly_dag, RUN)
    assert first.state == "success", first.task_states
    assert moved(first) == {"procedurelog": ("full", ROWS), "definition": ("full", ROWS),
                            "preference": ("full", ROWS)}

    change_source(stack)
    expected_procs = 5 + 7 + overlap_rows(stack)
    second = dag_runner(nightly_dag, RUN)

    assert second.state == "success", second.task_states
    assert moved(second) == {"procedurelog": ("incremental", expected_procs), "definition": ("append_only", 4),
                             "preference": ("full", ROWS)}
    assert moved(second, "load")["procedurelog"] == ("incremental", expected_procs)
    assert stack.counts("procedurelog") == dict.fromkeys(("source", "replica", "raw", "public"), ROWS + 7)
    assert stack.counts("definition") == dict.fromkeys(("source", "replica", "raw", "public"), ROWS + 4)
    for table in TABLES:
        assert differences(stack, table) == []
    fees = dict(stack.pg_rows("SELECT proc_num, proc_fee FROM public.procedurelog WHERE proc_num <= 5"))
    source_fees = dict(stack.mysql_rows(stack.source, "SELECT ProcNum, ROUND(ProcFee, 2) FROM procedurelog "
                                                      "WHERE ProcNum <= 5"))
    assert {k: float(v) for k, v in fees.items()} == {k: float(v) for k, v in source_fees.items()}

    before = snapshot(stack)
    rerun = dag_runner(nightly_dag, RUN)
    assert rerun.state == "success"
    after = snapshot(stack)
    assert after[1:] == before[1:]  # same rows, same values
    assert moved(rerun)["definition"] == ("append_only", 0)

    generator.fill_table(stack.source.connect(), "definition", 3, seed=5)
    before = snapshot(stack)
    dry = dag_runner(nightly_dag, {**RUN, "dry_run": True})
    assert dry.state == "success"
    assert dry.states_of("copy_table") == {-1: "skipped"}
    assert snapshot(stack) == before  # state table (watermarks, timestamps), public rows, counts: untouched
    assert stack.count("replica", "definition") == ROWS + 4

    forced = dag_runner(nightly_dag, {**RUN, "force": True})
    assert forced.state == "success", forced.task_states
    assert moved(forced) == {"procedurelog": ("full", ROWS + 7), "definition": ("full", ROWS + 7),
                             "preference": ("full", ROWS)}
    for table in TABLES:
        assert differences(stack, table) == []
