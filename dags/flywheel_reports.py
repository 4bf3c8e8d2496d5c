"""
### Flywheel clean-rooms report

Runs the `generate-cleanrooms-report` Glue job: the `part_*` tables, Clean Rooms configured tables and
associations, and Identity Resolution resources, reported as JSON/CSV in S3.

**Schedule:** on the asset `flywheel_part_tables`, i.e. after every successful `flywheel_partitioned`
run; trigger it by hand after changing configured tables, associations or ID mappings. Deferrable Glue
step with reattach on retry; environment from the Variable `flywheel_env` (`dev` default, `prod`).

**No params, no conf:** the job takes no arguments and always reports on the tables and resources as they
are when it runs (all snapshots), whichever run of `flywheel_partitioned` triggered it. Trigger it with an
empty conf; a run given any conf key (a `snapshot_dt`, say) fails at once without retry, naming the key,
and starts no Glue job.
"""

from __future__ import annotations

from airflow.sdk import DAG

from pipelines.flywheel.assets import PART_TABLES
from pipelines.flywheel.operators import FlywheelGlueJobOperator, flywheel_dag_defaults

with DAG(
    "flywheel_reports",
    schedule=[PART_TABLES],
    doc_md=__doc__,
    **flywheel_dag_defaults(tags=["glue", "reports"]),
):
    FlywheelGlueJobOperator(step="generate_cleanrooms_report")
