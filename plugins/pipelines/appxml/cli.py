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
import json
import logging
import os
import sys

import sqlalchemy as sa

from pipelines.appxml import ddl
from pipelines.appxml.config import load_settings
from pipelines.appxml.engines import engine_from_conn_id, engine_from_url
from pipelines.appxml.pipeline import PartitionSpec, StagingError, check_modulus, stage_partition
from pipelines.appxml.tables import TableName
from pipelines.common.cli import EXIT_FAILED, add_partition_arguments, one_line
from pipelines.common.errors import PermanentError, is_missing_connection

#: Where the CLI finds the database URL when --url is not given: keeps passwords off command lines.
URL_ENV = "APPXML_STAGING_URL"


def build_parser() -> argparse.ArgumentParser:
    settings = load_settings()
    parser = argparse.ArgumentParser(prog="python -m pipelines.appxml",
                                     description="Stage /Provenir/Request/CustData of app_XML for one partition.")
    add_partition_arguments(parser, url_env=URL_ENV, database="source and staging", batch=1000, unit="source rows")
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


def spec_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> PartitionSpec:
    if not args.conn_id and not args.url:
        args.url = os.environ.get(URL_ENV)
        if not args.url:
            parser.error(f"give --url or --conn-id (or set {URL_ENV})")
    if (args.mod is None) != (args.rem is None):
        parser.error("--mod and --rem go together")
    spec = PartitionSpec(
        mod=1 if args.mod is None else args.mod, rem=0 if args.rem is None else args.rem, batch=args.batch,
        limit=args.limit, start_after=args.start_after, resume=not args.no_resume, source_table=args.source_table,
        source_column=args.source_column, staging_table=args.staging_table, force=args.force)
    try:
        return spec.validated()
    except StagingError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits


def run(args: argparse.Namespace, spec: PartitionSpec) -> dict | None:
    engine = engine_from_url(args.url) if args.url else engine_from_conn_id(args.conn_id)
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


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        parser = build_parser()
    except PermanentError as exc:  # e.g. a bad appxml.yaml: one line, not a traceback wall
        print(f"appxml staging failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    args = parser.parse_args(argv)
    spec = spec_from_args(args, parser)
    try:
        metrics = run(args, spec)
    except (StagingError, sa.exc.SQLAlchemyError, OSError) as exc:
        print(f"appxml staging failed ({spec.label}): {one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # e.g. an unknown Airflow connection id: still one line, not a traceback wall
        if is_missing_connection(exc):
            print(f"appxml staging failed: connection {args.conn_id!r} is not defined", file=sys.stderr)
            return EXIT_FAILED
        raise
    if metrics is not None:
        print(json.dumps({key: metrics[key] for key in ("partition", "processed", "staged", "skipped",
                                                        "rows_per_sec", "duration_s")}))
        if args.metrics:
            args.metrics.parent.mkdir(parents=True, exist_ok=True)
            args.metrics.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return 0
