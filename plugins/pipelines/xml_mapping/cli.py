"""Command line for the runbook: map one partition of the staged applications, outside Airflow.

    PYTHONPATH=plugins python -m pipelines.xml_mapping [--url URL | --conn-id ID] --contract CC.json \\
        [--contract RL.json] [--source-table dbo.app_xml_staging] [--mod N --rem R] [--batch B] [--limit N] \\
        [--retry-failed] [--metrics FILE] [--check-schema]

``--check-schema`` only reports (for DBAs preparing a target): the tables a run would create and the existing
columns that would refuse it, as one JSON line; exit code 0 when none would, 1 when some column would.

The URL comes from ``XML_MAPPING_URL`` when neither ``--url`` nor ``--conn-id`` is given (a password typed on a
command line ends up in shell history). Exit code 0 when the partition finished, even with failed
applications (they are rows in processing_log); 1 when it could not run; 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipelines.common import cli as partition_cli
from pipelines.common.errors import PermanentError, is_missing_connection
from pipelines.xml_mapping.config import DEFAULT_SOURCE_COLUMN, DEFAULT_SOURCE_TABLE, load_contracts
from pipelines.xml_mapping.partition import MappingSpec, map_partition
from pipelines.xml_mapping.target_tables import build_schema, ensure_schema, report_and_dispose

URL_ENV = "XML_MAPPING_URL"
SUMMARY_KEYS = ("partition", "processed", "succeeded", "failed", "failed_by_stage", "docs_per_sec", "duration_s")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipelines.xml_mapping",
                                     description="Map one partition of the staged applications into the "
                                                 "contracts' tables.")
    partition_cli.add_partition_arguments(parser, url_env=URL_ENV, database="staging table and target schema",
                                          batch=500, unit="applications")
    parser.add_argument("--contract", action="append", required=True, type=Path,
                        help="mapping contract JSON (repeat: one per product)")
    parser.add_argument("--source-table", default=DEFAULT_SOURCE_TABLE)
    parser.add_argument("--source-column", default=DEFAULT_SOURCE_COLUMN)
    parser.add_argument("--retry-failed", action="store_true", help="map applications logged as failed again")
    parser.add_argument("--session-id", help="recorded in processing_log (default: cli:<partition>)")
    parser.add_argument("--check-schema", action="store_true",
                        help="only compare the target tables with the contracts and report; write nothing")
    return parser


def spec_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> MappingSpec:
    return partition_cli.spec_from_args(args, parser, URL_ENV, lambda mod, rem: MappingSpec(
        mod=mod, rem=rem, batch=args.batch, limit=args.limit, retry_failed=args.retry_failed,
        source_table=args.source_table, source_column=args.source_column,
        session_id=args.session_id or f"cli:rem={rem}/{mod}"))


def check_schema(args: argparse.Namespace) -> int:
    """Report the target against the contracts (one JSON line), writing nothing."""
    found: dict[str, Any] = report_and_dispose(partition_cli.engine_for(args), load_contracts(args.contract))
    print(json.dumps(found))
    return partition_cli.EXIT_FAILED if found["mismatched_columns"] else 0


def run(args: argparse.Namespace, spec: MappingSpec) -> dict:
    contracts = load_contracts(args.contract)
    engine = partition_cli.engine_for(args)
    try:
        target = build_schema(contracts, engine.dialect.name)
        ensure_schema(engine, target)
        return map_partition(engine, contracts, target, spec).to_dict()
    finally:
        engine.dispose()


def failure_line(exc: BaseException, conn_id: str | None) -> str | None:
    """The one line a user sees for an error that stops the run, or None for a bug (keeps its traceback)."""
    if isinstance(exc, PermanentError):
        return str(exc)
    if isinstance(exc, (sa.exc.SQLAlchemyError, OSError)):
        return partition_cli.one_line(exc)
    if is_missing_connection(exc):
        return f"connection {conn_id!r} is not defined"
    return None


def main(argv: list[str] | None = None) -> int:
    partition_cli.start_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    spec = spec_from_args(args, parser)

    def failure_message(exc: BaseException) -> str | None:
        line = failure_line(exc, args.conn_id)
        return None if line is None else f"xml mapping failed ({spec.label}): {line}"

    job = (lambda: check_schema(args)) if args.check_schema else (lambda: run(args, spec))
    return partition_cli.run_command(job, failure_message, SUMMARY_KEYS, args.metrics)
