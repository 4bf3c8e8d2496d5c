"""Command line for the runbook's users: stage one partition, outside Airflow.

    PYTHONPATH=plugins python -m pipelines.appxml --url SQLALCHEMY_URL | --conn-id ID \\
        [--mod N --rem R] [--batch B] [--limit L] [--start-after ID] [--source-table T] \\
        [--source-column C] [--staging-table T] [--drop-index] [--recreate-index] [--metrics PATH.json]

Prefer ``--conn-id`` (an Airflow connection) or the URL in ``APPXML_STAGING_URL`` instead of ``--url``:
a password typed on a command line ends up in shell history and process lists. Table names default to
``include/config/appxml.yaml``.
"""

from __future__ import annotations

import argparse
import sys

import sqlalchemy as sa

from pipelines.appxml import ddl
from pipelines.appxml.config import load_settings
from pipelines.appxml.errors import StagingError
from pipelines.appxml.modulus import check_modulus
from pipelines.appxml.staging import StagingSpec, stage_partition
from pipelines.common import cli as partition_cli
from pipelines.common.database.tables import TableName
from pipelines.common.errors import PermanentError, is_missing_connection

#: Where the CLI finds the database URL when --url is not given: keeps passwords off command lines.
URL_ENV = "APPXML_STAGING_URL"
SUMMARY_KEYS = ("partition", "processed", "staged", "skipped", "rows_per_sec", "duration_s")


def build_parser() -> argparse.ArgumentParser:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="python -m pipelines.appxml",
                                     description="Stage /Provenir/Request/CustData of app_XML for one partition.")
    partition_cli.add_partition_arguments(parser, url_env=URL_ENV, database="source and staging", batch=1000,
                                          unit="source rows")
    parser.add_argument("--start-after", type=int, help="start after this app_id instead of resuming")
    parser.add_argument("--no-resume", action="store_true", help="rescan from the start (rows are replaced)")
    parser.add_argument("--source-table", default=settings.source_table)
    parser.add_argument("--source-column", default=settings.source_column)
    parser.add_argument("--staging-table", default=settings.staging_table)
    parser.add_argument("--force", action="store_true", help="allow a source table whose name contains 'staging'")
    parser.add_argument("--drop-index", action="store_true", help="drop the staging index before the load")
    parser.add_argument("--recreate-index", action="store_true", help="recreate the staging index after the load")
    parser.add_argument("--skip-staging", action="store_true", help="only the index operations")
    return parser


def spec_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> StagingSpec:
    return partition_cli.spec_from_args(args, parser, URL_ENV, lambda mod, rem: StagingSpec(
        mod=mod, rem=rem, batch=args.batch, limit=args.limit, start_after=args.start_after,
        resume=not args.no_resume, source_table=args.source_table, source_column=args.source_column,
        staging_table=args.staging_table, force=args.force))


def run(args: argparse.Namespace, spec: StagingSpec) -> dict | None:
    engine = partition_cli.engine_for(args)
    staging = TableName.parse(spec.staging_table)
    try:
        ddl.ensure_staging_table(engine, staging)
        if spec.resume and spec.start_after is None and not args.skip_staging:
            check_modulus(engine, staging, spec.mod, [spec.rem])
        if args.drop_index:
            ddl.drop_staging_index(engine, staging)
        metrics = None if args.skip_staging else stage_partition(engine, spec).to_dict()
        if args.recreate_index:
            ddl.create_staging_index(engine, staging)
        return metrics
    finally:
        engine.dispose()


def failure_message(exc: BaseException, conn_id: str | None, spec: StagingSpec) -> str | None:
    """The one line a user sees for an error that stops the run, or None for a bug (keeps its traceback)."""
    if isinstance(exc, (StagingError, sa.exc.SQLAlchemyError, OSError)):
        return f"appxml staging failed ({spec.label}): {partition_cli.one_line(exc)}"
    if is_missing_connection(exc):  # e.g. an unknown Airflow connection id
        return f"appxml staging failed: connection {conn_id!r} is not defined"
    return None


def main(argv: list[str] | None = None) -> int:
    partition_cli.start_logging()
    try:
        parser = build_parser()
    except PermanentError as exc:  # e.g. a bad appxml.yaml: one line, not a traceback wall
        print(f"appxml staging failed: {exc}", file=sys.stderr)
        return partition_cli.EXIT_FAILED
    args = parser.parse_args(argv)
    spec = spec_from_args(args, parser)
    return partition_cli.run_command(lambda: run(args, spec), lambda exc: failure_message(exc, args.conn_id, spec),
                                     SUMMARY_KEYS, args.metrics)
