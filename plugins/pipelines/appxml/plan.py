"""The partitions a staging run stages, from its params: checked before anything is written."""

from __future__ import annotations

import logging
from typing import Any

from pipelines.appxml.config import load_settings
from pipelines.appxml.errors import StagingError
from pipelines.appxml.staging import StagingSpec
from pipelines.common.partitions import partition_label, plan_remainders

log = logging.getLogger(__name__)


def plan_partitions(params: dict[str, Any]) -> list[dict[str, int]]:
    """One entry per partition to stage, from the run's params; a StagingError names a bad param before
    anything is written. ``remainders`` reruns only those partitions."""
    workers, batch, limit = int(params["workers"]), int(params["batch"]), int(params["limit"])
    plan = [{"mod": workers, "rem": rem, "batch": batch, "limit": limit}
            for rem in plan_remainders(workers, params.get("remainders"), StagingError)]
    for entry in plan:  # the same checks the staging loop makes, before the first write
        spec_for(entry).validated()
    log.info("Staging %d partition(s) of %d: %s", len(plan), workers,
             ", ".join(partition_label(entry["rem"], workers) for entry in plan))
    return plan


def spec_for(entry: dict[str, int]) -> StagingSpec:
    settings = load_settings()
    return StagingSpec(mod=entry["mod"], rem=entry["rem"], batch=entry["batch"], limit=entry["limit"],
                         source_table=settings.source_table, source_column=settings.source_column,
                         staging_table=settings.staging_table)
