"""Generate the partition pools (``partition_<p>``, 1 slot) into include/config/pools.json.

Other families' pools in the file are kept; partition pools that are no longer configured are dropped.

    python -m pipelines.fileload_insight.pools           rewrite pools.json from partitions.yaml
    python -m pipelines.fileload_insight.pools --check   exit 1 if pools.json disagrees with partitions.yaml
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pipelines.common.paths import pools_file
from pipelines.fileload_insight.config import PartitionConfigError, PartitionsConfig, load_partitions

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, do not write")
    parser.add_argument("--pools-file", type=Path, default=pools_file())
    args = parser.parse_args(argv)
    try:
        config = load_partitions()
    except PartitionConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    existing = json.loads(args.pools_file.read_text()) if args.pools_file.exists() else {}
    wanted = render(merged_pools(existing, config))
    if args.check:
        if args.pools_file.exists() and args.pools_file.read_text() == wanted:
            return 0
        print(f"{args.pools_file.name} is out of date: run python -m pipelines.fileload_insight.pools",
              file=sys.stderr)
        return 1
    args.pools_file.write_text(wanted)
    print(f"wrote {len(partition_pools(config))} partition pools to {args.pools_file.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
