"""Where a table's task resumes: the stages it finished in a run, as recorded on the replica. The clearing
under a real scheduler is in tests/e2e/test_opendental_e2e.py (a table whose load failed resumes at load)."""

from __future__ import annotations

import pytest

from pipelines.opendental.connections import DEFAULT_IDS, mysql
from pipelines.opendental.plan import TablePlan
from pipelines.opendental.resume import finished_stages, forget_stages, mark_finished
from pipelines.opendental.tablerun import StageMetrics, TableRun, Window

pytestmark = pytest.mark.integration
RUN, OTHER_RUN = "manual__2026-12-04T01:00:00+00:00", "scheduled__2026-12-03T07:00:00+00:00"


def table_run(table: str, *stages: str) -> TableRun:
    plan = TablePlan(table=table, strategy="incremental", watermark_column="DateTStamp", key_column="ProcNum",
                     primary_key=("ProcNum",), estimated_rows=10, size_bytes=100, force=False)
    window = Window(column="DateTStamp", value="2026-12-03 00:55:00", inclusive=True)
    return TableRun(plan=plan, mode="incremental", window=window, stages={
        stage: StageMetrics(mode="incremental", rows=12, seconds=0.5, window=window) for stage in stages})


@pytest.fixture
def replica(stack):
    with mysql(DEFAULT_IDS.replica) as conn:
        yield conn


def test_a_table_resumes_with_the_records_its_finished_stages_left(replica):
    assert finished_stages(replica, RUN, "procedurelog") == {}  # nothing recorded yet (the table is created here)
    extracted, loaded = table_run("procedurelog", "extract"), table_run("procedurelog", "extract", "load")
    mark_finished(replica, RUN, "extract", extracted)
    mark_finished(replica, RUN, "load", loaded)
    mark_finished(replica, OTHER_RUN, "extract", table_run("procedurelog", "extract"))
    mark_finished(replica, RUN, "extract", table_run("definition", "extract"))

    assert finished_stages(replica, RUN, "procedurelog") == {"extract": extracted, "load": loaded}  # the same records
    assert set(finished_stages(replica, OTHER_RUN, "procedurelog")) == {"extract"}  # per run
    assert set(finished_stages(replica, RUN, "definition")) == {"extract"}  # per table


def test_a_validated_table_forgets_its_stages_and_unresumed_runs_expire(stack, replica):
    finished_stages(replica, RUN, "procedurelog")  # a table's task looks first: the bookkeeping table is made
    mark_finished(replica, RUN, "extract", table_run("procedurelog", "extract"))
    mark_finished(replica, OTHER_RUN, "extract", table_run("definition", "extract"))
    mark_finished(replica, OTHER_RUN, "extract", table_run("patient", "extract"))
    with stack.replica.connect() as conn:
        conn.cursor().execute("UPDATE etl_stage_done SET finished_at = UTC_TIMESTAMP() - INTERVAL 31 DAY "
                              "WHERE table_name = 'definition'")

    forget_stages(replica, RUN, "procedurelog")

    assert finished_stages(replica, RUN, "procedurelog") == {}  # a later clear starts again from extract
    assert finished_stages(replica, OTHER_RUN, "definition") == {}  # 31 days old: expired
    assert set(finished_stages(replica, OTHER_RUN, "patient")) == {"extract"}  # another run's table is kept
