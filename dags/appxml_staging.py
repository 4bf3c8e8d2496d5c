"""
### Stage `app_XML`

Reduces the Provenir documents of `dbo.app_xml` (connection `mssql_appxml`) to
`/Provenir/Request/CustData` and stages them in `dbo.app_xml_staging`, one partition per
`app_id % workers` remainder, each a mapped task labelled `rem=3/8`.

**Shape**: plan (checks params) → ensure the staging table → drop index (setup) → stage partitions
(mapped) → recreate index (teardown: runs even when a partition failed) → summary (totals and a
per-partition table; outlet: the `appxml_staging` asset).

**Nightly** (01:30 UTC) it stages new `app_id`s only: each partition resumes after its highest staged
`app_id`. Keep `workers` stable between runs (resume is per remainder of the current modulus). When the DAG
is first enabled, the scheduler runs the latest 01:30 slot at once: harmless, it stages the new `app_id`s
like any nightly run.

**Params**: `workers` (the modulus), `batch` (rows per transaction), `limit` (rows per partition, 0 = all),
`remainders` (rerun only these partitions, e.g. `[2, 5]`), `drop_index` (for a large initial load),
`recreate_index`.

**Rerun a failed partition**: clear its failed mapped instance (`rem=5/8`, "Downstream"), or every failed
one with "Clear All Mapped Tasks" and "Clear only failed tasks", or trigger with `{"remainders": [5]}`: it
resumes after its last committed batch; nothing is staged twice. The runbook gives the REST call (by run
id: it works for manual runs, which have no logical date, and scheduled ones alike).

**Settings** (`include/config/appxml.yaml`): source and staging table names, and how many partitions of
one run stage at once (`max_parallel_partitions`).
"""

from __future__ import annotations

from airflow.sdk import DAG, CronTriggerTimetable, setup, task, teardown

from pipelines.appxml import tasks
from pipelines.appxml.assets import STAGED_DOCUMENTS
from pipelines.appxml.config import max_parallel_partitions
from pipelines.appxml.params import staging_params
from pipelines.common.deadlines import run_limits
from pipelines.common.defaults import dag_defaults
from pipelines.common.mapped import MAP_INDEX_TEMPLATE

NIGHTLY = "30 1 * * *"

with DAG(
    "appxml_staging",
    schedule=CronTriggerTimetable(NIGHTLY, timezone="UTC"),
    max_active_runs=1,
    doc_md=__doc__,
    params=staging_params(),
    **dag_defaults(tags=["appxml", "staging", "nightly"], **run_limits("appxml_staging", cron=NIGHTLY)),
):

    @task
    def plan(params: dict) -> list[dict]:
        return tasks.plan(params)

    @task
    def ensure_staging_table() -> None:
        tasks.ensure_staging_table()

    @setup
    def drop_index(params: dict) -> None:
        tasks.drop_index(params)

    @task(map_index_template=MAP_INDEX_TEMPLATE, max_active_tis_per_dagrun=max_parallel_partitions())
    def stage_partition(entry: dict) -> dict:
        return tasks.stage_partition(entry)

    @teardown
    def recreate_index(params: dict) -> None:
        tasks.recreate_index(params)

    @task(outlets=[STAGED_DOCUMENTS])
    def summary(partitions: list[dict]) -> dict:
        return tasks.summarize(partitions)

    partitions = plan()
    dropped = drop_index()
    staged = stage_partition.expand(entry=partitions)
    partitions >> ensure_staging_table() >> dropped >> staged >> recreate_index().as_teardown(setups=dropped)
    summary(staged)
