"""The one mode rule, the windows stages continue from, the record's round trip through XCom, and the
merging of differing key ranges."""

from __future__ import annotations

from datetime import timedelta

from pipelines.opendental.deletes import merge
from pipelines.opendental.identifiers import mysql_ident, pg_ident
from pipelines.opendental.plan import TablePlan
from pipelines.opendental.tablerun import StageMetrics, TableRun, Window, decide_mode, window_for


def plan(strategy, force=False):
    return TablePlan(table="procedurelog", strategy=strategy,
                     watermark_column="DateTStamp" if strategy == "incremental" else None,
                     key_column="ProcNum", primary_key=("ProcNum",), estimated_rows=10, size_bytes=100, force=force)


def test_a_stage_continues_only_from_a_known_position_on_a_target_in_step():
    window = window_for(plan("incremental"), last_value="2026-01-02 00:03:00", overlap=timedelta(minutes=5))
    assert window == Window(column="DateTStamp", value="2026-01-01 23:58:00", inclusive=True)
    assert decide_mode(plan("incremental"), in_sync=True, window=window) == "incremental"
    assert decide_mode(plan("incremental"), in_sync=False, window=window) == "full"
    assert decide_mode(plan("incremental", force=True), in_sync=True, window=window) == "full"
    assert decide_mode(plan("incremental"), in_sync=True, window=None) == "full"
    assert window_for(plan("incremental"), last_value="0000-00-00 00:00:00") is None
    after = window_for(plan("append_only"), last_key=41)
    assert decide_mode(plan("append_only"), in_sync=True, window=after) == "append_only"
    assert window_for(plan("append_only"), last_key=None) is None
    assert window_for(plan("full"), last_key=41) is None


def test_a_window_is_one_condition_in_either_dialect():
    after = Window(column="ProcNum", value=41, inclusive=False)
    assert after.condition(mysql_ident) == ("`ProcNum` > %s", [41])
    assert after.on("proc_num").condition(pg_ident, prefix="s.") == ('s."proc_num" > %s', [41])
    assert after.label == "ProcNum > 41"


def test_the_record_survives_xcom_and_names_its_table():
    run = TableRun(plan=plan("append_only"), mode="append_only", window=Window(column="ProcNum", value=41,
                                                                                inclusive=False),
                   stages={"extract": StageMetrics(mode="append_only", rows=3, seconds=0.5, deleted=2)})
    data = run.to_xcom()
    assert (data["table"], data["strategy"], data["mode"]) == ("procedurelog", "append_only", "append_only")
    assert data["stages"]["extract"]["rows"] == 3
    assert TableRun.from_xcom(data) == run
    assert run.deleted("extract") == 2
    assert run.deleted("load") == 0


def test_adjacent_differing_ranges_are_merged():
    assert merge([(21, 30), (1, 10), (11, 20), (40, 50)]) == [(1, 30), (40, 50)]
    assert merge([]) == []
