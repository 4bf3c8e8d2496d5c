"""The business-hours gate: whether a run may read the production source now.

A manual run inside the clinic's business hours is refused unless ``allow_business_hours`` is set; a
scheduled run whose slot is long past is skipped (green, nothing read), not refused.
"""

from __future__ import annotations

import logging
from datetime import datetime

import pendulum

from pipelines.opendental.config import Settings
from pipelines.opendental.errors import BusinessHoursError

# The task logs name the logger as the line's source: it stays the one the tasks logged under before
# this module was split out of tasks.py, so operators' log searches keep finding the gate's lines.
log = logging.getLogger("pipelines.opendental.tasks")
SCHEDULED = "scheduled"  # DagRunType.SCHEDULED: the runs the timetable starts (not manual, not backfill)


def in_business_hours(now: datetime, settings: Settings) -> bool:
    local = pendulum.instance(now).in_timezone(settings.timezone).time()
    return settings.business_start <= local.replace(tzinfo=None) < settings.business_end


def may_read_production(now: datetime, settings: Settings, allow: bool, scheduled_slot: datetime | None = None) -> bool:
    """True when the run may go on; False, with one log line saying why and what to do, for a scheduled run
    whose slot is long past (the DAG was first enabled, or unpaused, during the day: the scheduler starts
    the latest slot at once); a manual run inside business hours without ``allow`` is refused (one alert)."""
    if scheduled_slot is not None and (reason := late_slot(scheduled_slot, now, settings)):
        log.warning("%s", reason)
        return False
    log.info("%s", check_business_hours(now, settings, allow))
    return True


def late_slot(slot: datetime, now: datetime, settings: Settings) -> str | None:
    """Why a scheduled run for ``slot`` must not read production ``now``, or None when it may: inside business
    hours, or once the business window that follows its slot has opened, the night it was meant for is over."""
    zone = settings.timezone
    local_slot, local_now = pendulum.instance(slot).in_timezone(zone), pendulum.instance(now).in_timezone(zone)
    opens = next_business_start(slot, settings)
    if in_business_hours(now, settings):
        why = f"it would read production inside business hours ({business_window(settings)})"
    elif now >= opens:
        why = f"business hours opened at {opens:%Y-%m-%d %H:%M} since its slot"
    else:
        return None
    return (f"skipped: the scheduled run for the {local_slot:%Y-%m-%d %H:%M} {zone} slot started at "
            f"{local_now:%Y-%m-%d %H:%M}, and {why}; production was not read and nothing changed. The next "
            f"slot runs as usual; to copy now, trigger the DAG by hand (with allow_business_hours=true "
            f"inside business hours).")


def next_business_start(moment: datetime, settings: Settings) -> pendulum.DateTime:
    """The first opening of business hours after ``moment``, in the DAG's time zone (DST-aware)."""
    local = pendulum.instance(moment).in_timezone(settings.timezone)
    start = settings.business_start
    opens = local.set(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    return opens if opens > local else opens.add(days=1).set(hour=start.hour, minute=start.minute)


def business_window(settings: Settings) -> str:
    return f"{settings.business_start:%H:%M}-{settings.business_end:%H:%M} {settings.timezone}"


def check_business_hours(now: datetime, settings: Settings, allow: bool) -> str:
    local = pendulum.instance(now).in_timezone(settings.timezone)
    window = business_window(settings)
    if in_business_hours(now, settings) and not allow:
        raise BusinessHoursError(
            f"refusing to read the production source at {local:%H:%M} {settings.timezone}: inside business hours "
            f"{window}; trigger with allow_business_hours=true to override")
    return f"{local:%Y-%m-%d %H:%M} {settings.timezone} ({'inside' if in_business_hours(now, settings) else 'outside'}"\
           f" business hours {window})"
