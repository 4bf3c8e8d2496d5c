"""What the families' command lines share: the partition arguments, the exit code for "could not run", and
the one-line form of an error.

A partition job (``python -m pipelines.appxml``, ``python -m pipelines.xml_mapping``) runs one
``app_id % mod == rem`` remainder outside Airflow, against a database named by an Airflow connection id or a
SQLAlchemy URL; the URL is best given through an environment variable, since a password typed on a command
line ends up in shell history and process lists.
"""

from __future__ import annotations

import argparse
from pathlib import Path

#: The job could not run (argparse exits 2 on usage errors; 0 means it ran, failed rows included).
EXIT_FAILED = 1


def add_partition_arguments(parser: argparse.ArgumentParser, *, url_env: str, database: str, batch: int,
                            unit: str) -> None:
    """--url | --conn-id, --mod/--rem, --batch, --limit and --metrics; ``unit`` names what a batch counts."""
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--url", help=f"SQLAlchemy URL ({database}); default ${url_env}")
    target.add_argument("--conn-id", help="Airflow connection id (e.g. mssql_appxml)")
    parser.add_argument("--mod", type=int, help="number of partitions (app_id %% mod == rem)")
    parser.add_argument("--rem", type=int, help="this partition's remainder, 0..mod-1")
    parser.add_argument("--batch", type=int, default=batch, help=f"{unit} per keyset batch and transaction")
    parser.add_argument("--limit", type=int, default=0, help=f"stop after this many {unit} (0 = all)")
    parser.add_argument("--metrics", type=Path, help="write this partition's metrics JSON here")


def one_line(exc: BaseException) -> str:
    """``Class: first line`` of an error, for users (driver messages carry host and user, no password)."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
