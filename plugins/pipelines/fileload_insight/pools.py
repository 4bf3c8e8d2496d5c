"""The partition pools (``partition_<p>``, 1 slot) as include/config/pools.json holds them.

Other families' pools in the file are kept; partition pools that are no longer configured are dropped.
``python -m pipelines.fileload_insight pools`` writes them (see ``cli``).
"""

from __future__ import annotations

import json
from typing import Any

from pipelines.fileload_insight.config import PartitionsConfig

POOL_PREFIX = "partition_"


def partition_pools(config: PartitionsConfig) -> dict[str, dict[str, Any]]:
    return {
        partition.pool: {
            "slots": 1,
            "description": f"Partition {partition.name}: one task at a time on {partition.member_repository_db} "
                           f"/ {partition.outcomes_identification_db} ({partition.conn_id})",
            "include_deferred": False,
        }
        for partition in config
    }


def merged_pools(existing: dict[str, Any], config: PartitionsConfig) -> dict[str, Any]:
    others = {name: spec for name, spec in existing.items() if not name.startswith(POOL_PREFIX)}
    return dict(sorted({**others, **partition_pools(config)}.items()))


def render(pools: dict[str, Any]) -> str:
    return json.dumps(pools, indent=2) + "\n"
