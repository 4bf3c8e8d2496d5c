"""Command line of the Fileload/Insight family.

    python -m pipelines.fileload_insight pools           rewrite include/config/pools.json from fileload_insight.yaml
    python -m pipelines.fileload_insight pools --check   exit 1 if pools.json disagrees with fileload_insight.yaml
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipelines.common.paths import pools_file
from pipelines.fileload_insight.config import PartitionConfigError, load_settings
from pipelines.fileload_insight.pools import merged_pools, partition_pools, render

PROG = "python -m pipelines.fileload_insight"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)
    pools = commands.add_parser("pools", help="generate the partition pools into pools.json")
    pools.add_argument("--check", action="store_true", help="only compare, do not write")
    pools.add_argument("--pools-file", type=Path, help="default: include/config/pools.json")
    return root


def pools_command(path: Path, check: bool) -> int:
    try:
        config = load_settings()
    except PartitionConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    existing = json.loads(path.read_text()) if path.exists() else {}
    wanted = render(merged_pools(existing, config))
    if check:
        if path.exists() and path.read_text() == wanted:
            return 0
        print(f"{path.name} is out of date: run {PROG} pools", file=sys.stderr)
        return 1
    path.write_text(wanted)
    print(f"wrote {len(partition_pools(config))} partition pools to {path.name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return pools_command(args.pools_file or pools_file(), args.check)
