"""
### Map staged applications (`appxml_mapping`)

Maps the Provenir applications staged by `appxml_staging` (`dbo.app_xml_staging`, connection
`mssql_appxml`) into the relational tables of the mapping contracts (credit card: `CustData/application`,
recreational lending: `CustData/IL_application`), one partition per `app_id % workers` remainder, each a
mapped task labelled `rem=3/8`. Contracts and settings: `include/config/xml_mapping/`.

**Shape**: plan (checks params, settings and contracts; logs the target tables to create and any existing
column that does not match the contracts) → ensure the target schema (tables created when missing; a
mismatched column refuses each partition before it writes) → map partitions (mapped) → summary (applications
mapped and failed, failures by stage with the most frequent reasons, rows per table; outlet: the
`appxml_mapping` asset).

**Scheduled** on the `appxml_staging` asset: each staging run is followed by a mapping run that maps what is
new. Every application ends as a `processing_log` row: `success`, or `failed` with `"<stage>: <message>"`.
Logged applications are skipped; `retry_failed` maps the failed ones again.

**Params**: `workers` (the modulus), `batch` (applications per transaction), `limit` (applications per
partition, 0 = all), `remainders` (only these partitions), `retry_failed`.

**Rerun a failed partition**: clear its mapped instance (`rem=5/8`): it skips what already landed; nothing is
written twice.
"""

from __future__ import annotations

from airflow.sdk import DAG, task

from pipelines.appxml.assets import STAGED_DOCUMENTS
from pipelines.common.deadlines import run_limits
from pipelines.common.defaults import dag_defaults
from pipelines.common.mapped import MAP_INDEX_TEMPLATE
from pipelines.xml_mapping import tasks
from pipelines.xml_mapping.assets import MAPPED_APPLICATIONS
from pipelines.xml_mapping.params import mapping_params

with DAG(
    "appxml_mapping",
    schedule=[STAGED_DOCUMENTS],
    max_active_runs=1,
    doc_md=__doc__,
    params=mapping_params(),
    **dag_defaults(tags=["appxml", "mapping"], **run_limits("appxml_mapping")),
):

    @task
    def plan(params: dict) -> list[dict]:
        return tasks.plan(params)

    @task
    def ensure_schema() -> None:
        tasks.ensure_target_schema()

    @task(map_index_template=MAP_INDEX_TEMPLATE)
    def map_partition(entry: dict) -> dict:
        return tasks.map_partition(entry)

    @task(outlets=[MAPPED_APPLICATIONS])
    def summary(partitions: list[dict]) -> dict:
        return tasks.summarize(partitions)

    entries = plan()
    mapped = map_partition.expand(entry=entries)
    entries >> ensure_schema() >> mapped
    summary(mapped)
