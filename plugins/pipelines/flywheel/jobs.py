"""Glue job arguments of every Flywheel step, exactly as the production run sequence passes them.

A step is one Glue job run in a DAG (``register_infobase`` and ``register_addressable`` are two steps of
the same ``register-staged-tables`` job). Its arguments come from the environment's configuration plus
the run's settings (snapshot date, table filter, bucketing overrides), which are resolved from the DAG
run: scheduled and backfill runs process their own date, manual runs what the trigger form says.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.common.identifiers import is_identifier
from pipelines.flywheel.config import FlywheelConfig
from pipelines.flywheel.errors import InvalidRunSettings

NONE_SNAPSHOT = "_NONE_"  # the Glue jobs then discover the latest snapshot_dt themselves
REPAIR_WITH_ATHENA = "athena_msck"
REPAIR_WITH_GLUE = "prepare_part_tables_job"
DATE_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Runs the scheduler creates for a date: they process that date's snapshot.
DATED_RUN_TYPES = frozenset({"scheduled", "backfill"})


def validate_snapshot_dt(value: Any) -> str:
    """``_NONE_`` or a real calendar date written ``YYYY-MM-DD``."""
    text = str(value)
    if text == NONE_SNAPSHOT:
        return text
    if not DATE_FORMAT.match(text):
        raise InvalidRunSettings(f"snapshot_dt must be {NONE_SNAPSHOT} or YYYY-MM-DD, got {text[:40]!r}")
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidRunSettings(f"snapshot_dt {text!r} is not a calendar date") from None
    return text


def validate_identifier(value: Any, param: str) -> str:
    text = str(value)
    if not is_identifier(text):
        raise InvalidRunSettings(f"{param}: {text[:40]!r} is not a valid table or column name")
    return text


@dataclass(frozen=True)
class RunSettings:
    """What one DAG run processes, validated."""

    snapshot_dt: str = NONE_SNAPSHOT
    tables_filter: tuple[str, ...] = ()
    bucket_count: int | None = None
    bucket_col: str | None = None

    def __post_init__(self) -> None:
        validate_snapshot_dt(self.snapshot_dt)
        for table in self.tables_filter:
            validate_identifier(table, "tables_filter")
        if self.bucket_col is not None:
            validate_identifier(self.bucket_col, "bucket_col")
        if self.bucket_count is not None and not (isinstance(self.bucket_count, int) and self.bucket_count >= 1):
            raise InvalidRunSettings(f"bucket_count must be a positive integer, got {self.bucket_count!r}")

    @property
    def has_snapshot_date(self) -> bool:
        return self.snapshot_dt != NONE_SNAPSHOT


def resolve_run_settings(params: Mapping[str, Any], run_type: str, logical_date: dt.datetime | None) -> RunSettings:
    """Scheduled and backfill runs process the snapshot of their own logical date, so that a backfill
    with ``--reprocess-behavior failed`` re-runs exactly the failed dates; manual runs take the
    ``snapshot_dt`` param (``_NONE_`` by default: the jobs discover the latest snapshot)."""
    if run_type in DATED_RUN_TYPES and logical_date is not None:
        snapshot = logical_date.date().isoformat()
    else:
        snapshot = params.get("snapshot_dt") or NONE_SNAPSHOT
    if params.get("repair_with") == REPAIR_WITH_GLUE and params.get("tables_filter"):
        # The Glue job repairs every part_* table: the filter would be silently ignored.
        raise InvalidRunSettings(f"tables_filter narrows only repair_with={REPAIR_WITH_ATHENA}; "
                                 f"{REPAIR_WITH_GLUE} repairs every part_* table: leave one of them out")
    return RunSettings(
        snapshot_dt=str(snapshot),
        tables_filter=tuple(params.get("tables_filter") or ()),
        bucket_count=params.get("bucket_count"),
        bucket_col=params.get("bucket_col"),
    )


def run_settings_from_context(context: Mapping[str, Any]) -> RunSettings:
    """The run's settings; a bad or inconsistent one is an ``InvalidRunSettings`` (never retried)."""
    dag_run = context["dag_run"]
    run_type = getattr(dag_run.run_type, "value", dag_run.run_type)
    return resolve_run_settings(context["params"], str(run_type), context.get("logical_date"))


# --- the arguments of each step -------------------------------------------------------------------

ArgsBuilder = Callable[[FlywheelConfig, RunSettings], dict[str, str]]


def _split(source: str, target: str, csv_file: str | None = None) -> ArgsBuilder:
    def build(cfg: FlywheelConfig, run: RunSettings) -> dict[str, str]:
        args = {"--SNAPSHOT_DT": run.snapshot_dt, "--SOURCE_PATH": cfg.source(source),
                "--TARGET_PATH": cfg.target(target)}
        if csv_file:
            args["--CSV_FILE"] = cfg.csv_file(csv_file)
        return args

    return build


def _register_staged(s3_root: str) -> ArgsBuilder:
    def build(cfg: FlywheelConfig, run: RunSettings) -> dict[str, str]:
        return {"--DATABASE": cfg.database, "--S3_ROOT": cfg.target(s3_root),
                "--TABLE_PREFIX": cfg.table_prefixes["staged"], "--MAX_COLS": str(cfg.register_max_cols)}

    return build


def _create_bucketed(cfg: FlywheelConfig, run: RunSettings) -> dict[str, str]:
    args = {
        "--ATHENA_WORKGROUP": cfg.athena_workgroup,
        "--BUCKET_COUNT": str(run.bucket_count or cfg.bucket_count),
        "--BUCKET_COL": run.bucket_col or cfg.bucket_col,
        "--STAGED_DB": cfg.database,
        "--FINAL_DB": cfg.database,
        "--BUCKETED_BASE": cfg.target("bucketed_base"),
        "--ATHENA_RESULTS_S3": cfg.athena_results_s3,
    }
    if run.tables_filter:
        args["--TABLES_FILTER"] = ",".join(run.tables_filter)
    return args


def _register_part(cfg: FlywheelConfig, run: RunSettings) -> dict[str, str]:
    return {"--SNAPSHOT_DT": run.snapshot_dt, "--SOURCE_PATH": cfg.target("split_part_root"),
            "--STAGED_DB": cfg.database, "--TABLE_PREFIX": cfg.table_prefixes["partitioned"]}


def _prepare_part(cfg: FlywheelConfig, run: RunSettings) -> dict[str, str]:
    return {
        "--AWS_REGION": cfg.region,
        "--DATABASE": cfg.database,
        "--WORKGROUP": cfg.athena_workgroup,
        "--RESULTS_S3": cfg.msck_results_s3,
        "--TABLE_PREFIX": cfg.table_prefixes["partitioned"],
        "--MAX_CONCURRENCY": str(cfg.prepare_part_tables.max_concurrency),
        "--POLL_INTERVAL_SEC": str(cfg.prepare_part_tables.poll_interval_sec),
    }


def _no_arguments(cfg: FlywheelConfig, run: RunSettings) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class GlueStep:
    job: str  # key of job_suffixes in the config
    build_args: ArgsBuilder
    # False for a job that takes no run settings: its DAG declares no params, and reads no conf.
    takes_run_settings: bool = True


STEPS: dict[str, GlueStep] = {
    # flywheel_bucketed
    "infobase_split_and_bucket": GlueStep(
        "infobase_split_and_bucket", _split("infobase_raw", "split_cluster_infobase", "infobase_bucketed")),
    "addressable_bucket": GlueStep(
        "addressable_bucket", _split("addressable_compaction", "split_cluster_addressable")),
    "register_infobase": GlueStep("register_staged_tables", _register_staged("split_cluster_infobase")),
    "register_addressable": GlueStep("register_staged_tables", _register_staged("split_cluster_addressable")),
    "create_athena_bucketed_tables": GlueStep("create_athena_bucketed_tables", _create_bucketed),
    # flywheel_partitioned
    "infobase_split_and_part": GlueStep(
        "infobase_split_and_part", _split("infobase_raw", "split_part_infobase", "infobase_part")),
    "addressable_split_and_part": GlueStep(
        "addressable_split_and_part", _split("addressable_raw", "split_part_addressable", "addressable_part")),
    "register_part_tables": GlueStep("register_part_tables", _register_part),
    "prepare_part_tables": GlueStep("prepare_part_tables", _prepare_part),
    # flywheel_reports
    "generate_cleanrooms_report": GlueStep("generate_cleanrooms_report", _no_arguments, takes_run_settings=False),
}

# The source prefix each split reads; its sensor waits for ``<source>snapshot_dt=<date>/``.
SPLIT_SOURCES: dict[str, str] = {
    "infobase_split_and_bucket": "infobase_raw",
    "addressable_bucket": "addressable_compaction",
    "infobase_split_and_part": "infobase_raw",
    "addressable_split_and_part": "addressable_raw",
}


def glue_step(step: str) -> GlueStep:
    try:
        return STEPS[step]
    except KeyError:
        raise KeyError(f"unknown Flywheel Glue step {step!r}; known: {sorted(STEPS)}") from None


def step_run_settings(step: str, context: Mapping[str, Any]) -> RunSettings:
    """The run settings ``step`` is built with: the run's, or none for a job that takes none (so a conf
    key given to the report is refused as unknown by the DAG, not read as a setting)."""
    return run_settings_from_context(context) if glue_step(step).takes_run_settings else RunSettings()


def job_run_request(cfg: FlywheelConfig, step: str, run: RunSettings) -> tuple[str, dict[str, str]]:
    """The Glue job name and the ``--ARG`` arguments of ``step`` in this environment and run."""
    spec = glue_step(step)
    return cfg.job_name(spec.job), spec.build_args(cfg, run)


def snapshot_key_pattern(cfg: FlywheelConfig, source: str, snapshot_dt: str) -> str:
    """The S3 wildcard matching any object under the snapshot's ``snapshot_dt=YYYY-MM-DD/`` prefix."""
    validate_snapshot_dt(snapshot_dt)
    if snapshot_dt == NONE_SNAPSHOT:
        raise InvalidRunSettings("no snapshot date to wait for")
    return f"{cfg.source(source).rstrip('/')}/snapshot_dt={snapshot_dt}/*"


# --- what each job reads and writes (OpenLineage), from its arguments -------------------------------------

#: Arguments naming S3 locations a job reads / writes.
S3_INPUT_ARGS = ("--SOURCE_PATH", "--CSV_FILE")
S3_OUTPUT_ARGS = ("--TARGET_PATH", "--BUCKETED_BASE")


def job_datasets(cfg: FlywheelConfig, args: Mapping[str, str]) -> tuple[list[Any], list[Any]]:
    """(inputs, outputs) of a Glue job run with ``args``: its S3 prefixes (the snapshot's folder when the run
    has a date) and its Glue tables, named ``<prefix>*`` (the jobs register every table under a prefix).
    Staged tables are registered over ``--S3_ROOT``; the bucketed job reads the staged tables."""
    from pipelines.common import lineage

    snapshot = args.get("--SNAPSHOT_DT", NONE_SNAPSHOT)
    dated = snapshot != NONE_SNAPSHOT

    def location(arg: str) -> Any:
        uri = args[arg]
        if dated and arg == "--SOURCE_PATH":
            uri = f"{uri.rstrip('/')}/snapshot_dt={snapshot}/"
        return lineage.s3(uri)

    def tables(database: str, prefix: str) -> Any:
        return lineage.glue_table(cfg.region, database, f"{prefix}*")

    inputs = [location(arg) for arg in S3_INPUT_ARGS if args.get(arg)]
    outputs = [location(arg) for arg in S3_OUTPUT_ARGS if args.get(arg)]
    if args.get("--S3_ROOT"):
        inputs.append(lineage.s3(args["--S3_ROOT"]))
    prefix = args.get("--TABLE_PREFIX")
    database = args.get("--DATABASE") or args.get("--STAGED_DB")
    if prefix and database:
        outputs.append(tables(database, prefix))
    if args.get("--FINAL_DB"):  # create_athena_bucketed_tables: staged tables in, bucketed tables out
        inputs.append(tables(args["--STAGED_DB"], cfg.table_prefixes["staged"]))
        outputs.append(tables(args["--FINAL_DB"], cfg.table_prefixes["bucketed"]))
    return inputs, outputs
