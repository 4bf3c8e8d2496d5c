"""Business-hours window, watermark arithmetic and the run summary."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from pipelines.opendental.config import BusinessHours, Schedule, Settings
from pipelines.opendental.errors import BusinessHoursError, StageError
from pipelines.opendental.plan import TablePlan
from pipelines.opendental.state import as_text, later, window_start
from pipelines.opendental.tablerun import Counts, StageMetrics, TableRun
from pipelines.opendental.tasks import check_business_hours, run_stage, summarize

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

    rows = summarize(planned, [done])

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
