"""Every scheduled DAG runs in its documented window, computed by Airflow's own timetables (the objects the
scheduler uses), time-zone aware: OpenDental at 01:00 America/Chicago on both sides of a DST change and
never inside business hours, appxml at 01:30 UTC, Flywheel daily at midnight UTC, each partition's
Fileload and Insight programs at the times its partitions file gives. A new DAG fails here until its
window is written down below."""

from __future__ import annotations

from datetime import datetime, time
from itertools import pairwise

import pendulum
import pytest
import yaml

from pipelines.common.paths import config_path
from tests.support.airflow_env import load_dags

CHICAGO = "America/Chicago"
#: DAGs started by an asset instead of a clock: dag_id -> the asset names that trigger it.
ASSET_SCHEDULED = {
    "flywheel_reports": {"flywheel_part_tables"},
    "appxml_mapping": {"appxml_staging"},
}
#: DAGs on a clock: dag_id -> (local time of day, time zone); partition DAGs are added from the config.
CLOCK_SCHEDULED = {
    "appxml_staging": (time(1, 30), "UTC"),
    "opendental_nightly": (time(1, 0), CHICAGO),
    "flywheel_bucketed": (time(0, 0), "UTC"),
    "flywheel_partitioned": (time(0, 0), "UTC"),
}


@pytest.fixture(scope="module")
def dags() -> dict:
    return load_dags()


def partition_schedules() -> dict[str, tuple[time, str]]:
    """``pup_fileload__<p>`` / ``gr_insight__<p>`` -> their configured daily time (cron in UTC)."""
    data = yaml.safe_load(config_path("fileload_insight.yaml").read_text())
    windows = {}
    for name, partition in data["partitions"].items():
        schedules = partition.get("schedules") or {"fileload": "0 1 * * *", "insight": "0 4 * * *"}
        for program, dag_prefix in (("fileload", "pup_fileload"), ("insight", "gr_insight")):
            minute, hour, *_ = schedules[program].split()
            windows[f"{dag_prefix}__{name}"] = (time(int(hour), int(minute)), "UTC")
    return windows


def run_times(dag, start: datetime, count: int) -> list[pendulum.DateTime]:
    """The next ``count`` scheduled run times from ``start``, as the scheduler computes them."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    timetable = coerce_to_core_timetable(dag.timetable)
    restriction = TimeRestriction(earliest=pendulum.instance(start), latest=None, catchup=True)
    times, last = [], None
    for _ in range(count):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        assert info is not None, f"{dag.dag_id}: no next run after {start}"
        times.append(info.run_after)
        last = info.data_interval
    return times


def test_every_dag_has_a_documented_schedule(dags):
    documented = {**CLOCK_SCHEDULED, **partition_schedules()}.keys() | ASSET_SCHEDULED.keys()
    assert sorted(set(dags) - documented) == []


@pytest.mark.parametrize("start", [
    pendulum.datetime(2026, 3, 5, tz="UTC"),   # US daylight saving time starts on 2026-03-08
    pendulum.datetime(2026, 10, 29, tz="UTC"),  # and ends on 2026-11-01 (01:00 happens twice that night)
    pendulum.datetime(2026, 6, 15, tz="UTC"),
])
def test_clock_scheduled_dags_run_once_a_day_at_their_local_time(dags, start):
    windows = {**CLOCK_SCHEDULED, **partition_schedules()}
    for dag_id, (at, zone) in sorted(windows.items()):
        if dag_id not in dags:
            continue
        times = [moment.in_timezone(zone) for moment in run_times(dags[dag_id], start, 8)]
        assert [moment.time() for moment in times] == [at] * 8, (dag_id, times)
        days = [moment.date() for moment in times]
        assert all((later - earlier).days == 1 for earlier, later in pairwise(days)), \
            f"{dag_id}: not exactly one run per day: {times}"


def test_opendental_never_runs_in_business_hours_across_dst(dags):
    business_start, business_end = time(6, 0), time(21, 0)
    for start in (pendulum.datetime(2026, 3, 1, tz="UTC"), pendulum.datetime(2026, 10, 25, tz="UTC")):
        for moment in run_times(dags["opendental_nightly"], start, 14):
            local = moment.in_timezone(CHICAGO).time()
            assert not business_start <= local < business_end, moment


def test_opendental_follows_chicago_offsets(dags):
    times = run_times(dags["opendental_nightly"], pendulum.datetime(2026, 3, 7, tz="UTC"), 3)
    # 01:00 CST is 07:00 UTC; after the switch, 01:00 CDT is 06:00 UTC.
    assert [moment.in_timezone("UTC").hour for moment in times] == [7, 7, 6]


def test_insight_starts_after_fileload_in_every_partition(dags):
    windows = partition_schedules()
    for dag_id, (at, _zone) in windows.items():
        if dag_id.startswith("gr_insight__"):
            fileload_at = windows[dag_id.replace("gr_insight__", "pup_fileload__")][0]
            assert fileload_at < at, dag_id


def test_asset_scheduled_dags_wait_for_their_assets(dags):
    for dag_id, assets in ASSET_SCHEDULED.items():
        if dag_id not in dags:
            continue
        assert asset_names(dags[dag_id].timetable.asset_condition) == assets, dag_id


def asset_names(condition) -> set[str]:
    """Names of the assets in a schedule's condition (an Asset, or AssetAll/AssetAny of them)."""
    if hasattr(condition, "objects"):
        return set().union(*(asset_names(part) for part in condition.objects))
    return {condition.name}


def test_a_schedule_in_another_zone_than_utc_says_so_in_the_dag_description(dags):
    """The UI prints the cron in its own zone (UTC by default): a Chicago 01:00 must not read as 01:00 UTC."""
    zoned = {dag_id: str(zone) for dag_id, dag in dags.items()
             if (zone := getattr(dag.timetable, "timezone", None)) is not None and str(zone) != "UTC"}
    assert "opendental_nightly" in zoned
    for dag_id, zone in zoned.items():
        assert zone in (dags[dag_id].description or ""), dag_id
