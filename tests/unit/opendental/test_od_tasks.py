"""Business-hours window, watermark arithmetic and the run summary."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from pipelines.opendental.config import BusinessHours, Schedule, Settings
from pipelines.opendental.errors import BusinessHoursError, StageError
from pipelines.opendental.gate import check_business_hours, late_slot, may_read_production, next_business_start
from pipelines.opendental.plan import TablePlan
from pipelines.opendental.stages import run_stage
from pipelines.opendental.state import as_text, later, window_start
from pipelines.opendental.summary import log_summary, validated_results
from pipelines.opendental.tablerun import Counts, StageMetrics, TableRun

SETTINGS = Settings()  # America/Chicago, 06:00-21:00


def test_refuses_inside_business_hours_in_the_dag_timezone():
    noon_chicago = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)  # 12:00 CDT
    with pytest.raises(BusinessHoursError, match=r"refusing .* 12:00 America/Chicago.*allow_business_hours"):
        check_business_hours(noon_chicago, SETTINGS, allow=False)


def test_allows_with_the_override_and_at_night():
    noon_chicago = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
    assert "inside business hours" in check_business_hours(noon_chicago, SETTINGS, allow=True)
    one_am_chicago = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)  # 01:00 CDT
    assert "outside" in check_business_hours(one_am_chicago, SETTINGS, allow=False)


def test_window_edges_and_timezone_are_configurable():
    settings = Settings(schedule=Schedule(timezone="UTC", business_hours=BusinessHours(start=time(8, 0),
                                                                                       end=time(9, 0))))
    check_business_hours(datetime(2026, 1, 1, 9, 0, tzinfo=UTC), settings, allow=False)
    with pytest.raises(BusinessHoursError):
        check_business_hours(datetime(2026, 1, 1, 8, 0, tzinfo=UTC), settings, allow=False)


SLOT = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)  # 01:00 CST, the nightly slot


@pytest.mark.parametrize(("now", "runs"), [
    (datetime(2026, 11, 22, 7, 1, tzinfo=UTC), True),    # on time
    (datetime(2026, 11, 22, 11, 59, tzinfo=UTC), True),  # 05:59 CST: late, but the night is not over
    (datetime(2026, 11, 22, 12, 0, tzinfo=UTC), False),  # 06:00 CST: business hours
    (datetime(2026, 11, 22, 20, 0, tzinfo=UTC), False),  # 14:00 CST: the DAG was enabled during the day
    (datetime(2026, 11, 23, 4, 0, tzinfo=UTC), False),   # 22:00 CST: outside hours, but that night is over
])
def test_a_scheduled_run_for_a_long_past_slot_is_skipped_not_refused(now, runs, caplog):
    caplog.set_level("INFO", logger="pipelines.opendental.tasks")
    assert may_read_production(now, SETTINGS, allow=False, scheduled_slot=SLOT) is runs
    if not runs:
        line = caplog.records[-1].getMessage()
        assert line.startswith("skipped: the scheduled run for the 2026-11-22 01:00 America/Chicago slot"), line
        assert "production was not read" in line
        assert "trigger the DAG by hand" in line
        assert len(line.splitlines()) == 1


def test_a_manual_run_inside_business_hours_is_still_refused():
    noon = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    with pytest.raises(BusinessHoursError, match="allow_business_hours=true"):
        may_read_production(noon, SETTINGS, allow=False)
    assert may_read_production(noon, SETTINGS, allow=True) is True


def test_the_business_window_after_a_slot_follows_dst():
    # 2026-03-08: clocks go from 02:00 CST to 03:00 CDT; 06:00 CDT is 11:00 UTC (not 12:00).
    spring_slot = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert next_business_start(spring_slot, SETTINGS) == datetime(2026, 3, 8, 11, 0, tzinfo=UTC)
    assert late_slot(spring_slot, datetime(2026, 3, 8, 10, 59, tzinfo=UTC), SETTINGS) is None
    assert late_slot(spring_slot, datetime(2026, 3, 8, 11, 0, tzinfo=UTC), SETTINGS) is not None
    # A slot at or after the opening belongs to the next day's window.
    assert next_business_start(datetime(2026, 11, 22, 12, 0, tzinfo=UTC), SETTINGS) == datetime(
        2026, 11, 23, 12, 0, tzinfo=UTC)


def test_watermark_window_and_text_forms():
    assert window_start("2026-01-02 00:03:00", timedelta(minutes=5)) == "2026-01-01 23:58:00"
    assert window_start("0001-01-01 00:00:00", timedelta(minutes=5)) is None
    assert window_start("0000-00-00 00:00:00", timedelta(minutes=5)) is None
    assert window_start(None, timedelta(minutes=5)) is None
    assert as_text(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02 03:04:05"
    assert as_text(datetime(1, 1, 1)) == "0001-01-01 00:00:00"
    assert later("2026-01-02 00:00:00", "2025-12-31 23:59:59") == "2026-01-02 00:00:00"
    assert later(None, "2025-12-31 23:59:59") == "2025-12-31 23:59:59"


def test_summary_has_rows_duration_and_rate_per_stage_and_lists_unfinished_tables():
    patient_plan = plan("patient", "incremental")
    done = TableRun(
        plan=patient_plan, mode="incremental",
        stages={"extract": StageMetrics(mode="incremental", rows=100, seconds=2.0),
                "load": StageMetrics(mode="incremental", rows=100, seconds=0.5),
                "transform": StageMetrics(mode="incremental", rows=100, seconds=0.25)},
        validation=Counts(table="patient", strategy="incremental", mode="incremental", source_rows=1,
                          replica_rows=1, raw_rows=1, public_rows=1))
    planned = [patient_plan, plan("fee", "full")]

    rows = log_summary(planned, [done])

    patient, fee = rows
    assert patient["stages"]["extract"] == {"rows": 100, "seconds": 2.0, "rows_per_second": 50}
    assert patient["stages"]["transform"]["rows_per_second"] == 400
    assert patient["seconds"] == 2.75
    assert patient["validated"] is True
    assert fee == {"table": "fee", "strategy": "full", "mode": "not completed", "validated": False, "stages": {},
                   "seconds": 0.0}


def plan(table, strategy):
    return TablePlan(table=table, strategy=strategy, watermark_column=None, key_column=None, primary_key=(),
                     estimated_rows=0, size_bytes=0)


def test_stage_errors_name_table_and_stage_and_mask_row_values():
    class FakeMySqlError(Exception):
        pass

    def broken():
        raise FakeMySqlError(1062, "Duplicate entry 'Jane Q. Patient' for key 'PRIMARY'")

    with pytest.raises(StageError) as raised:
        run_stage("extract", "patient", broken)
    message = str(raised.value)
    assert message.startswith("table patient: extract failed: FakeMySqlError: 1062 Duplicate entry")
    assert "Jane" not in message
    assert raised.value.__cause__ is None


def test_validated_results_are_a_list_whatever_airflow_hands_over():
    one = {"table": "patient"}
    assert validated_results(None) == []
    assert validated_results(one) == [one]  # one instance returned a value: Airflow hands over the value itself
    assert validated_results([one, None, {"table": "payment"}]) == [one, {"table": "payment"}]


def test_a_tables_task_runs_the_copying_stages_in_order_then_validation():
    from pipelines.opendental.config import STAGES
    from pipelines.opendental.tasks import TABLE_STEPS

    assert [stage for stage, _ in TABLE_STEPS] == [*STAGES, "validation"]


def test_a_tables_task_may_take_the_sum_of_its_stages_timeouts():
    assert SETTINGS.table_timeout == timedelta(minutes=30 + 45 + 60)
