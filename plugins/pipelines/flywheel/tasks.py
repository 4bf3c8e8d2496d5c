"""Bodies of the small Python tasks of the Flywheel DAGs (the DAG files only wire them).

Each body fails its task at once, without retries, on an error no retry can fix (a bad environment
Variable or run setting, no part_* table to repair): see ``pipelines.common.errors``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pipelines.common.errors import fail_without_retry
from pipelines.flywheel.catalog import catalog_table_names, glue_client, msck_repair_kwargs, select_part_tables
from pipelines.flywheel.config import current_config
from pipelines.flywheel.errors import NoPartTables
from pipelines.flywheel.jobs import REPAIR_WITH_GLUE, run_settings_from_context

log = logging.getLogger(__name__)

MSCK_TASK_ID = "msck_repair"
LIST_TABLES_TASK_ID = "list_part_tables"
PREPARE_TASK_ID = "prepare_part_tables"


@fail_without_retry
def repair_branch(params: Mapping[str, Any]) -> str:
    """Which way the part_* partitions get repaired: per-table Athena MSCK (default) or the Glue job."""
    return PREPARE_TASK_ID if params.get("repair_with") == REPAIR_WITH_GLUE else LIST_TABLES_TASK_ID


@fail_without_retry
def msck_repair_plan(context: Mapping[str, Any]) -> list[dict[str, str]]:
    """One AthenaOperator kwargs dict per ``part_*`` table found in the Glue catalog now."""
    cfg = current_config()
    run = run_settings_from_context(context)
    prefix = cfg.table_prefixes["partitioned"]
    names = catalog_table_names(glue_client(cfg.aws_conn_id), cfg.database)
    tables = select_part_tables(names, prefix, run.tables_filter)
    if not tables:
        scope = f" matching {list(run.tables_filter)}" if run.tables_filter else ""
        raise NoPartTables(f"no {prefix}* tables{scope} in Glue database {cfg.database}: did register_part_tables run?")
    log.info("MSCK REPAIR for %d %s* tables in %s", len(tables), prefix, cfg.database)
    return msck_repair_kwargs(tables, database=cfg.database, output_location=cfg.msck_results_s3,
                              workgroup=cfg.athena_workgroup)


@fail_without_retry
def part_tables_event_extra(context: Mapping[str, Any]) -> dict[str, str]:
    """What the asset event says about this update (env, database, snapshot), for the reports DAG."""
    cfg = current_config()
    run = run_settings_from_context(context)
    return {"env": cfg.env, "database": cfg.database, "snapshot_dt": run.snapshot_dt}
