"""
### OpenDental nightly ETL

Copies the clinic's OpenDental database every night: production MySQL (`opendental_source`, read only)
→ local replica (`opendental_replication`) → PostgreSQL `raw` → cleaned PostgreSQL `public`
(`opendental_analytics`).

**Shape**: business-hours gate → plan (the conf's tables checked against the source's catalogue) →
connection test → `copy_table`, one mapped instance per table (labelled with the table) running its
extract → load → transform → validate → summary. One table failing never holds the others back.

**Strategy per table** (see `include/config/opendental.yaml`): `incremental` on a change timestamp
(`DateTStamp`, `SecDateTEdit`, ...), `append_only` on an auto-increment key, else `full` (shadow table
swapped in atomically). Rows deleted at the source are found by comparing key ranges (count and checksum
per range) and removed from the replica, `raw` and `public` in the same run. Every night the rows' content is
compared too (count and checksum of whole rows per key range, like pt-table-checksum): rows changed in place
without their watermark moving are re-read and repaired in the replica, `raw` and `public` in the same run.
Watermarks live in `etl_table_state` on the replica; per-run row counts, deleted and repaired rows in
`etl_run_validation`.

**Params**: `tables` (default all), `force` (full refresh), `dry_run` (log the plan, change nothing),
`parallel` (tables at a time), `allow_business_hours` (run against production during opening hours).

**Business hours**: a manual run between the window's start and end is refused (one alert) unless
`allow_business_hours` is set. A *scheduled* run whose slot is long past (the DAG was enabled or unpaused
during the day, and the scheduler started the latest 01:00 slot at once) is skipped by the gate: green,
nothing read, one log line saying why.

**Rerun one table**: clear the table's failed instance (e.g. `copy_table [definition]`) with "Downstream":
it resumes at the stage that failed (the stages it finished in this run are not repeated), then the
summary runs again; the other tables are not touched. The runbook (docs/runbook.md) gives the REST call
(by run id: manual and scheduled runs alike).
"""

from __future__ import annotations

from airflow.sdk import DAG, CronTriggerTimetable, TriggerRule, task

from pipelines.common.alerts import task_failure_alert
from pipelines.common.deadlines import run_limits
from pipelines.common.defaults import dag_defaults, default_args
from pipelines.common.mapped import MAP_INDEX_TEMPLATE
from pipelines.opendental import tasks
from pipelines.opendental.config import load_settings
from pipelines.opendental.params import nightly_params
from pipelines.opendental.stages import alert_details

SETTINGS = load_settings()
NIGHTLY = "0 1 * * *"  # 01:00 in the settings' schedule.timezone: five hours before the business-hours gate
per_table = {
    "map_index_template": MAP_INDEX_TEMPLATE,
    "max_active_tis_per_dagrun": SETTINGS.parallel_max,
    "on_failure_callback": task_failure_alert(details=alert_details),
}

with DAG(
    "opendental_nightly",
    schedule=CronTriggerTimetable(NIGHTLY, timezone=SETTINGS.timezone),
    # The UI shows the cron in its own zone (UTC by default): say which zone the slot is meant in.
    description=f"Nightly at cron '{NIGHTLY}' in {SETTINGS.timezone} (not UTC)",
    max_active_runs=1,
    doc_md=__doc__,
    params=nightly_params(SETTINGS),
    **dag_defaults(
        tags=["opendental", "etl", "nightly"],
        default_args=default_args(retries=SETTINGS.retries, retry_delay=SETTINGS.retry_delay),
        # Late once the business-hours gate opens: from then on the night's copy competes with the clinic.
        **run_limits("opendental_nightly", cron=NIGHTLY, done_by=SETTINGS.business_start),
    ),
):

    # False skips every later task, the summary too: a scheduled run for a long-past slot ends green, unread.
    @task.short_circuit
    def business_hours_gate(params: dict, dag_run=None) -> bool:
        return tasks.business_hours_gate(bool(params["allow_business_hours"]), dag_run.run_type, dag_run.run_after)

    @task
    def test_connections() -> dict:
        return tasks.test_connections()

    @task
    def plan(params: dict) -> list[dict]:
        return tasks.plan(params)

    # One mapped instance per table runs its four stages: one per table and stage (1,784 instances for 446
    # tables) kept the scheduler a minute a loop (BENCHMARKS.md). A retry or clear resumes at the failed stage.
    @task(execution_timeout=SETTINGS.table_timeout, **per_table)
    def copy_table(table_plan: dict) -> dict:
        return tasks.copy_table(table_plan)

    # Runs whatever failed, so the figures are always logged; then fails the run if a table did not finish.
    @task(trigger_rule=TriggerRule.ALL_DONE)
    def summary(planned: list[dict] | None, validated: list[dict] | dict | None) -> list[dict]:
        return tasks.summarize(planned, validated)

    # The conf is checked before any connection: the gate (no connection) refuses business hours, plan
    # refuses unknown tables after reading the source's catalogue only, then the three servers are tested.
    planned = plan()
    tables = copy_table.expand(table_plan=planned)
    business_hours_gate() >> planned >> test_connections() >> tables
    summary(planned, tables)
