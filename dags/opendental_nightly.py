"""
### OpenDental nightly ETL

Copies the clinic's OpenDental database every night: production MySQL (`opendental_source`, read only)
→ local replica (`opendental_replication`) → PostgreSQL `raw` → cleaned PostgreSQL `public`
(`opendental_analytics`).

**Shape**: business-hours gate → connection test → plan → per table (mapped, labelled with the table):
extract → load → transform → validate → summary.

**Strategy per table** (see `include/config/opendental_tables.yaml`): `incremental` on a change timestamp
(`DateTStamp`, `SecDateTEdit`, ...), `append_only` on an auto-increment key, else `full` (shadow table
swapped in atomically). Rows deleted at the source are found by comparing key ranges (count and checksum
per range) and removed from the replica, `raw` and `public` in the same run. Watermarks live in
`etl_table_state` on the replica; per-run row counts and deleted rows in `etl_run_validation`.

**Params**: `tables` (default all), `force` (full refresh), `dry_run` (log the plan, change nothing),
`parallel` (tables at a time), `allow_business_hours` (run against production during opening hours).

**Rerun one table**: clear its failed task instance (e.g. `load [procedurelog]`) with downstream;
the other tables are not touched.
"""

from __future__ import annotations

from airflow.sdk import DAG, CronTriggerTimetable, TriggerRule, task

from pipelines.common.alerts import task_failure_alert
from pipelines.common.defaults import dag_defaults, default_args
from pipelines.common.params import bool_param, identifier_list_param, int_param
from pipelines.opendental import tasks
from pipelines.opendental.config import load_settings

SETTINGS = load_settings()
TABLE_LABEL = "{{ table_label }}"
per_table = {
    "map_index_template": TABLE_LABEL,
    "max_active_tis_per_dagrun": SETTINGS.parallel_max,
    "on_failure_callback": task_failure_alert(details=tasks.alert_details),
}

with DAG(
    "opendental_nightly",
    schedule=CronTriggerTimetable(SETTINGS.cron, timezone=SETTINGS.timezone),
    max_active_runs=1,
    doc_md=__doc__,
    params={
        "tables": identifier_list_param(
            title="Tables", description="OpenDental tables to process (default: all discovered tables). "
            "Unknown names are rejected with the list of valid ones."),
        "force": bool_param(False, title="Force full refresh",
                            description="Copy every table in full, ignoring watermarks."),
        "dry_run": bool_param(False, title="Dry run", description="Log the per-table plan (strategy, watermark, "
                              "estimated rows) and change nothing anywhere."),
        "parallel": int_param(SETTINGS.parallel_default, title="Parallel tables", minimum=1,
                              maximum=SETTINGS.parallel_max, description="How many tables run at the same time."),
        "allow_business_hours": bool_param(
            False, title="Allow business hours", description=f"Run against production between "
            f"{SETTINGS.business_start:%H:%M} and {SETTINGS.business_end:%H:%M} ({SETTINGS.timezone})."),
    },
    **dag_defaults(
        tags=["opendental", "etl", "nightly"],
        default_args=default_args(retries=SETTINGS.retries, retry_delay=SETTINGS.retry_delay),
    ),
):

    @task
    def business_hours_gate(params: dict) -> str:
        return tasks.business_hours_gate(bool(params["allow_business_hours"]))

    @task
    def test_connections() -> dict:
        return tasks.test_connections()

    @task
    def plan(params: dict) -> list[dict]:
        return tasks.plan(params)

    @task(execution_timeout=SETTINGS.timeouts["extract"], **per_table)
    def extract(table_plan: dict) -> dict:
        return tasks.extract(table_plan)

    @task(execution_timeout=SETTINGS.timeouts["load"], **per_table)
    def load(extracted: dict) -> dict:
        return tasks.load(extracted)

    @task(execution_timeout=SETTINGS.timeouts["transform"], **per_table)
    def transform(loaded: dict) -> dict:
        return tasks.transform(loaded)

    @task(**per_table)
    def validate(transformed: dict) -> dict:
        return tasks.validate(transformed)

    # Runs whatever failed, so the figures are always logged; then fails the run if a table did not finish.
    @task(trigger_rule=TriggerRule.ALL_DONE)
    def summary(planned: list[dict] | None, validated: list[dict] | None) -> list[dict]:
        return tasks.summary(planned, validated)

    planned = plan()
    business_hours_gate() >> test_connections() >> planned
    validated = validate.expand(transformed=transform.expand(loaded=load.expand(extracted=extract.expand(
        table_plan=planned))))
    summary(planned, validated)
