"""Trigger-form Params of the Flywheel DAGs. The schema rejects a bad date or a table name with a
quote before the run exists, so nothing reaches AWS; the tasks validate the same rules again."""

from __future__ import annotations

from airflow.sdk import Param

from pipelines.common.identifiers import IDENTIFIER_PATTERN
from pipelines.common.params import date_param, enum_param, identifier_list_param
from pipelines.flywheel.jobs import NONE_SNAPSHOT, REPAIR_WITH_ATHENA, REPAIR_WITH_GLUE


def snapshot_param() -> Param:
    return date_param(
        NONE_SNAPSHOT,
        sentinel=NONE_SNAPSHOT,
        title="Snapshot date",
        description=(f"YYYY-MM-DD of the source snapshot to process, or {NONE_SNAPSHOT} to let the Glue jobs "
                     "discover the latest one. Manual runs only: scheduled and backfill runs always "
                     "process the snapshot of their own date."),
    )


def tables_filter_param(example: str) -> Param:
    return identifier_list_param(
        title="Tables filter",
        description=f"Only these tables (e.g. {example}); empty = all tables.",
    )


def bucketed_params() -> dict[str, Param]:
    return {
        "snapshot_dt": snapshot_param(),
        "tables_filter": tables_filter_param("addressable_ids, ibe_01: passed as --TABLES_FILTER"),
        "bucket_count": Param(None, type=["null", "integer"], minimum=1, maximum=4096, title="Bucket count",
                              description="Override of the Hive bucket count; empty = flywheel.yaml (256)."),
        "bucket_col": Param(None, type=["null", "string"], pattern=IDENTIFIER_PATTERN, title="Bucket column",
                            description="Override of the bucketing column; empty = flywheel.yaml "
                                        "(customer_user_id)."),
    }


def partitioned_params() -> dict[str, Param]:
    return {
        "snapshot_dt": snapshot_param(),
        "tables_filter": tables_filter_param("part_ibe_01_a or ibe_01_a: limits the MSCK REPAIR fan-out of "
                                             f"{REPAIR_WITH_ATHENA}; refused with {REPAIR_WITH_GLUE}, "
                                             "which repairs every table"),
        "repair_with": enum_param(
            REPAIR_WITH_ATHENA, [REPAIR_WITH_ATHENA, REPAIR_WITH_GLUE],
            title="Repair partitions with",
            description=("athena_msck: one MSCK REPAIR TABLE per part_* table, visible per table in Airflow; "
                         "prepare_part_tables_job: the prepare-part-tables Glue job does all tables."),
        ),
    }
