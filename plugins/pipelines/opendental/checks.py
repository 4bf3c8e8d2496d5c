"""Business-total checks after a table's validation: the declared daily totals (``checkspec``) computed on
the source (read-only) and on ``public``, compared within the check's tolerance, and every day's totals
recorded in ``etl_business_checks`` on the replica, so drift over the nights can be queried.

Only aggregates are read, logged, recorded or alerted on (totals per day), never rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pendulum

from pipelines.common.paths import read_sql
from pipelines.opendental.checkspec import BusinessCheck, checks_for
from pipelines.opendental.config import Settings, load_settings
from pipelines.opendental.connections import DEFAULT_IDS, ConnIds, mysql, postgres
from pipelines.opendental.db import execute

log = logging.getLogger(__name__)
STORED_PLACES = Decimal("0.000001")  # etl_business_checks keeps totals as decimal(38,6)
SHOWN_DAYS = 3  # failing days named in the one-line error; the table holds them all


@dataclass(frozen=True)
class DayResult:
    check: str
    day: date
    source_total: Decimal | None
    public_total: Decimal | None
    ok: bool

    def problem(self, table: str) -> str:
        return (f"table {table}: business check {self.check} failed on {self.day}: "
                f"source={shown(self.source_total)} public={shown(self.public_total)}")


def as_decimal(total: Any) -> Decimal | None:
    """A SUM as an exact decimal: DECIMAL sums already are; a DOUBLE sum by its shortest round-trip text."""
    if total is None:
        return None
    return total if isinstance(total, Decimal) else Decimal(repr(total))


def daily_totals(cursor: Any, sql: str, params: list[Any]) -> dict[date, Decimal | None]:
    cursor.execute(sql, params)
    return {day: as_decimal(total) for day, total in cursor.fetchall()}


def compare(name: str, check: BusinessCheck, source: dict[date, Any], public: dict[date, Any]) -> list[DayResult]:
    """One result per day found on either side; a day missing on one side totals 0 there."""
    results = []
    for day in sorted(set(source) | set(public)):
        source_total, public_total = source.get(day) or Decimal(0), public.get(day) or Decimal(0)
        results.append(DayResult(name, day, source_total, public_total,
                                 check.tolerance.allows(source_total, public_total)))
    return results


def run_checks(table: str, checks: dict[str, BusinessCheck], today: date, ids: ConnIds) -> list[DayResult]:
    results: list[DayResult] = []
    with mysql(ids.source, read_only=True) as source, postgres(ids.analytics) as pg:
        for name, check in checks.items():
            with source.cursor() as my_cur:
                source_days = daily_totals(my_cur, *check.source_query(today))
            with pg.cursor() as pg_cur:
                public_days = daily_totals(pg_cur, *check.public_query(today))
            pg.commit()  # no snapshot outlives the read
            results.extend(compare(name, check, source_days, public_days))
    return results


def record(table: str, run_id: str, results: list[DayResult], ids: ConnIds) -> None:
    with mysql(ids.replica) as replica:
        execute(replica, read_sql("mysql/opendental/business_checks_table.sql"))
        execute(replica, read_sql("mysql/opendental/business_checks_clear.sql"), [run_id, table])
        with replica.cursor() as cur:
            cur.executemany(read_sql("mysql/opendental/business_checks_put.sql"), [
                (run_id, table, r.check, r.day, stored(r.source_total), stored(r.public_total), r.ok)
                for r in results])


def stored(total: Decimal | None) -> Decimal | None:
    return None if total is None else total.quantize(STORED_PLACES)


def shown(total: Decimal | None) -> str:
    """A total as etl_business_checks holds it, without trailing zeros (the alert matches the table)."""
    return "NULL" if total is None else format(stored(total).normalize(), "f")


def business_check_problems(table: str, run_id: str, settings: Settings | None = None,
                            ids: ConnIds = DEFAULT_IDS) -> list[str]:
    """Run the table's declared checks over their windows (ending today in the DAG's time zone), record
    every day's totals, and return one line per failing check naming its first failing days and totals."""
    settings = settings or load_settings()
    checks = checks_for(settings.business_checks, table)
    if not checks:
        return []
    results = run_checks(table, checks, pendulum.now(settings.timezone).date(), ids)
    record(table, run_id, results, ids)
    failed = [r for r in results if not r.ok]
    log.info("%s: business checks %s: %d days compared, %d outside tolerance", table, ", ".join(checks),
             len(results), len(failed))
    problems = []
    for name in checks:
        days = [r for r in failed if r.check == name]
        if days:
            more = f" (and {len(days) - SHOWN_DAYS} more days)" if len(days) > SHOWN_DAYS else ""
            problems.append("; ".join(r.problem(table) for r in days[:SHOWN_DAYS]) + more
                            + f", tolerance {checks[name].tolerance.text}")
    return problems


def check_tally(run_id: str, ids: ConnIds = DEFAULT_IDS) -> dict[str, tuple[int, int]]:
    """Per table, the run's business checks (passed, failed), for the summary."""
    with mysql(ids.replica) as replica:
        execute(replica, read_sql("mysql/opendental/business_checks_table.sql"))
        with replica.cursor() as cur:
            cur.execute(read_sql("mysql/opendental/business_checks_tally.sql"), [run_id])
            return {table: (int(passed), int(failed)) for table, passed, failed in cur.fetchall()}
