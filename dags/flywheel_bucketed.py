r"""
### Flywheel bucketed tables

Builds the clean-room **bucketed** tables with the production Glue chain (runbook "Pipeline 1"):

```
wait for infobase snapshot    -> infobase_split_and_bucket -> register_infobase    \
                                                                                     -> create_athena_bucketed_tables
wait for addressable snapshot -> addressable_bucket        -> register_addressable /
```

The two branches are independent and run in parallel; each register step only waits for its own split
(both run the `register-staged-tables` job, which therefore needs `MaxConcurrentRuns` >= 2 in Glue).
Every Glue step is a deferrable `GlueJobOperator` (no worker slot held while Glue runs) that returns the
job run id; a retry reattaches to its still running or succeeded run instead of starting a duplicate.
Job names, S3 paths and databases come from `include/config/flywheel.yaml` for the environment in the
Variable `flywheel_env` (`dev` by default, `prod`).

**Schedule:** plain daily (`@daily`). A scheduled or backfill run passes its own date as `--SNAPSHOT_DT`
and first waits (deferrable S3 sensor) for `snapshot_dt=YYYY-MM-DD/` under the sources, so
`airflow backfill create --dag-id flywheel_bucketed --from-date D1 --to-date D2 --reprocess-behavior failed`
re-runs exactly the failed snapshot dates. A manual run uses the `snapshot_dt` param (`_NONE_`: the jobs
discover the latest snapshot, and the sensors are skipped).

**Params** (manual runs): `snapshot_dt`, `tables_filter` (passed as `--TABLES_FILTER`), `bucket_count`,
`bucket_col`. A conf key the DAG does not declare, or a setting that must not reach AWS, fails the first
tasks at once (no retry) before any Glue job starts.
"""

from __future__ import annotations

from airflow.sdk import DAG, TriggerRule

from pipelines.flywheel.operators import FlywheelGlueJobOperator, SnapshotPrefixSensor, flywheel_dag_defaults
from pipelines.flywheel.params import bucketed_params

with DAG(
    "flywheel_bucketed",
    schedule="@daily",
    # Two runs at once would start the same Glue jobs (ConcurrentRunsExceeded) and write the same tables.
    max_active_runs=1,
    params=bucketed_params(),
    doc_md=__doc__,
    **flywheel_dag_defaults(tags=["glue", "athena"]),
):
    split_infobase = FlywheelGlueJobOperator(step="infobase_split_and_bucket", trigger_rule=TriggerRule.NONE_FAILED)
    bucket_addressable = FlywheelGlueJobOperator(step="addressable_bucket", trigger_rule=TriggerRule.NONE_FAILED)
    register_infobase = FlywheelGlueJobOperator(step="register_infobase")
    register_addressable = FlywheelGlueJobOperator(step="register_addressable")
    create_bucketed = FlywheelGlueJobOperator(step="create_athena_bucketed_tables")

    SnapshotPrefixSensor(split_step="infobase_split_and_bucket") >> split_infobase >> register_infobase
    SnapshotPrefixSensor(split_step="addressable_bucket") >> bucket_addressable >> register_addressable
    [register_infobase, register_addressable] >> create_bucketed
