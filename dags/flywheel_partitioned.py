r"""
### Flywheel partitioned tables

Builds the clean-room **partitioned** `part_*` tables (runbook "Pipeline 2"):

```
wait for infobase snapshot    -> infobase_split_and_part    \
                                                             -> register_part_tables -> repair -> publish_part_tables
wait for addressable snapshot -> addressable_split_and_part /
```

**repair** (param `repair_with`): by default the `part_*` tables are listed from the Glue catalog when the
run gets there and each gets its own `MSCK REPAIR TABLE` on Athena (mapped task `msck_repair`, labelled
with the table name, at most 5 at once, SQL in `include/sql/athena/flywheel/`); `prepare_part_tables_job` runs the
`prepare-part-tables` Glue job instead. `publish_part_tables` updates the asset `flywheel_part_tables`,
which schedules `flywheel_reports`.

Glue steps are deferrable and reattach on retry (see `pipelines.flywheel.operators`). Environment from
the Variable `flywheel_env` (`dev` default, `prod`), settings in `include/config/flywheel.yaml`.

**Schedule:** plain daily (`@daily`); scheduled and backfill runs pass their own date as `--SNAPSHOT_DT`
(after waiting for the `snapshot_dt=YYYY-MM-DD/` source prefixes), so `airflow backfill create
--reprocess-behavior failed` re-runs exactly the failed dates. Manual runs use the `snapshot_dt` param.

**Params** (manual runs): `snapshot_dt`, `tables_filter` (narrows the `msck_repair` fan-out; refused
together with `repair_with=prepare_part_tables_job`, whose job repairs every table), `repair_with`. A conf
key the DAG does not declare, or a setting that must not reach AWS, fails the first tasks at once (no
retry) before any Glue job starts.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.sdk import DAG, TriggerRule, get_current_context, task

from pipelines.flywheel import tasks as flywheel
from pipelines.flywheel.assets import PART_TABLES
from pipelines.flywheel.catalog import MSCK_LABEL_TEMPLATE
from pipelines.flywheel.config import load_settings
from pipelines.flywheel.operators import FlywheelGlueJobOperator, SnapshotPrefixSensor, flywheel_dag_defaults
from pipelines.flywheel.params import partitioned_params

with DAG(
    "flywheel_partitioned",
    schedule="@daily",
    # Two runs at once would start the same Glue jobs (ConcurrentRunsExceeded) and write the same tables.
    max_active_runs=1,
    params=partitioned_params(),
    doc_md=__doc__,
    **flywheel_dag_defaults(tags=["glue", "athena"]),
):
    split_infobase = FlywheelGlueJobOperator(step="infobase_split_and_part", trigger_rule=TriggerRule.NONE_FAILED)
    split_addressable = FlywheelGlueJobOperator(step="addressable_split_and_part",
                                                trigger_rule=TriggerRule.NONE_FAILED)
    register_part_tables = FlywheelGlueJobOperator(step="register_part_tables")
    prepare_part_tables = FlywheelGlueJobOperator(step="prepare_part_tables")

    @task.branch
    def choose_repair(params=None):
        return flywheel.repair_branch(params)

    @task(task_id=flywheel.LIST_TABLES_TASK_ID)
    def list_part_tables():
        return flywheel.msck_repair_plan(get_current_context())

    msck_plan = list_part_tables()
    msck_repair = AthenaOperator.partial(
        task_id=flywheel.MSCK_TASK_ID,
        aws_conn_id=load_settings().aws_conn_id,
        max_active_tis_per_dagrun=load_settings().msck_max_active,
        map_index_template=MSCK_LABEL_TEMPLATE,
        sleep_time=load_settings().athena_poll_seconds,
    ).expand_kwargs(msck_plan)

    @task(outlets=[PART_TABLES], trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def publish_part_tables(outlet_events=None):
        outlet_events[PART_TABLES].extra = flywheel.part_tables_event_extra(get_current_context())

    SnapshotPrefixSensor(split_step="infobase_split_and_part") >> split_infobase
    SnapshotPrefixSensor(split_step="addressable_split_and_part") >> split_addressable
    repair = choose_repair()
    [split_infobase, split_addressable] >> register_part_tables >> repair
    repair >> [msck_plan, prepare_part_tables]
    [msck_repair, prepare_part_tables] >> publish_part_tables()
