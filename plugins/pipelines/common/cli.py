"""The command-line skeleton of the partition jobs: the partition arguments, where the database comes from,
the exit code for "could not run", the one-line form of an error and the summary a finished run prints.

A partition job (``python -m pipelines.appxml``, ``python -m pipelines.xml_mapping``) runs one
``app_id % mod == rem`` remainder outside Airflow, against a database named by an Airflow connection id or a
SQLAlchemy URL; the URL is best given through an environment variable, since a password typed on a command
line ends up in shell history and process lists.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from pipelines.common.database.engines import engine_from_conn_id, engine_from_url
from pipelines.common.errors import PermanentError

Spec = TypeVar("Spec", bound="Validating")


class Validating(Protocol):
    def validated(self: Spec) -> Spec: ...

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


def start_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")


def partition_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser, url_env: str) -> tuple[int, int]:
    """``(mod, rem)`` of the command line, ``(1, 0)`` when neither is given; ``args.url`` from ``url_env`` when
    neither --url nor --conn-id is given. A usage error (exit 2) otherwise."""
    args.url = args.url or (None if args.conn_id else os.environ.get(url_env))
    if not (args.url or args.conn_id):
        parser.error(f"give --url or --conn-id (or set {url_env})")
    if (args.mod is None) != (args.rem is None):
        parser.error("--mod and --rem go together")
    return (1, 0) if args.mod is None else (args.mod, args.rem)


def spec_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser, url_env: str,
                   make_spec: Callable[[int, int], Spec]) -> Spec:
    """The partition's spec, ``make_spec(mod, rem)`` validated; a bad one is a usage error (exit 2)."""
    mod, rem = partition_from_args(args, parser, url_env)
    try:
        return make_spec(mod, rem).validated()
    except PermanentError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits


def engine_for(args: argparse.Namespace) -> sa.Engine:
    """The engine of --url (or its environment variable), else of --conn-id."""
    return engine_from_url(args.url) if args.url else engine_from_conn_id(args.conn_id)


def report(metrics: dict[str, Any], summary_keys: Sequence[str], path: Path | None) -> None:
    """The summary as one JSON line on stdout; the whole metrics as JSON in ``path`` when given."""
    print(json.dumps({key: metrics[key] for key in summary_keys}))
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")


def run_command(run: Callable[[], dict[str, Any] | int | None], failure_message: Callable[[BaseException], str | None],
                summary_keys: Sequence[str], metrics_path: Path | None) -> int:
    """Run the job: its metrics are reported (exit 0), an exit code returned as it is; an error that
    ``failure_message`` describes is that one line on stderr (exit 1), any other keeps its traceback."""
    try:
        result = run()
    except Exception as exc:
        message = failure_message(exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return EXIT_FAILED
    if isinstance(result, int):
        return result
    if result is not None:
        report(result, summary_keys, metrics_path)
    return 0
