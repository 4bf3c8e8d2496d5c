"""``make demo`` for the Flywheel DAGs, and the stand-in AWS account the tests seed the same way.

moto plays AWS: the Glue jobs of the environment exist (they do nothing but record their arguments),
the source buckets hold a snapshot folder, and the Glue catalog holds the tables the register jobs
would have created. Everything is derived from include/config/flywheel.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from devtools.demo import DemoEnv, DemoSpec
from pipelines.flywheel.config import FlywheelConfig, load_environment
from pipelines.flywheel.jobs import STEPS

DEMO_ENV = "dev"
DEMO_SNAPSHOT = "2026-01-15"
# What the register jobs would create: infobase split tables and the addressable ids table.
STAGED_SUFFIXES = ("ibe_01", "ibe_02", "addressable_ids")
PART_SUFFIXES = ("ibe_01_a", "ibe_02_a", "addressable_ids")
# Two register steps of the bucketed pipeline run the same job side by side.
MAX_CONCURRENT_RUNS = 2
VALID_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def split_s3_url(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


def create_glue_jobs(glue: Any, cfg: FlywheelConfig) -> list[str]:
    """Every Glue job of the environment, as a stand-in (a script location is required, not run)."""
    names = sorted({cfg.job_name(step.job) for step in STEPS.values()})
    script_bucket, _ = split_s3_url(cfg.target("split_part_root"))
    for name in names:
        glue.create_job(
            Name=name,
            Role="flywheel-glue-stand-in",
            Command={"Name": "glueetl", "ScriptLocation": f"s3://{script_bucket}/scripts/{name}.py"},
            ExecutionProperty={"MaxConcurrentRuns": MAX_CONCURRENT_RUNS},
        )
    return names


def create_buckets(s3: Any, cfg: FlywheelConfig) -> None:
    urls = [*cfg.sources.values(), *cfg.targets.values(), *cfg.csv_files.values(), cfg.athena_results_s3,
            cfg.msck_results_s3]
    for bucket in sorted({split_s3_url(url)[0] for url in urls}):
        if VALID_BUCKET.match(bucket):  # prod's msck results bucket is a runbook placeholder (<account>)
            s3.create_bucket(Bucket=bucket)


def put_snapshot(s3: Any, cfg: FlywheelConfig, snapshot_dt: str, sources: Iterable[str] | None = None) -> None:
    """A parquet-named placeholder under ``<source>snapshot_dt=<date>/`` of each source."""
    for source in sources or cfg.sources:
        bucket, key = split_s3_url(cfg.source(source))
        s3.put_object(Bucket=bucket, Key=f"{key}snapshot_dt={snapshot_dt}/part-00000.parquet", Body=b"PAR1")


def create_catalog(glue: Any, cfg: FlywheelConfig, part_tables: Iterable[str] | None = None) -> list[str]:
    """The Glue database with ``ext_*`` and ``part_*`` tables; returns the part table names."""
    glue.create_database(DatabaseInput={"Name": cfg.database})
    staged = [cfg.table_prefixes["staged"] + suffix for suffix in STAGED_SUFFIXES]
    parts = list(part_tables) if part_tables is not None else [
        cfg.table_prefixes["partitioned"] + suffix for suffix in PART_SUFFIXES]
    for table in [*staged, *parts]:
        glue.create_table(DatabaseName=cfg.database, TableInput={"Name": table, "TableType": "EXTERNAL_TABLE"})
    return parts


def seed_account(clients: Mapping[str, Any], cfg: FlywheelConfig, snapshot_dt: str | None = None) -> None:
    """Glue jobs, buckets (with a snapshot when given) and catalog of one environment."""
    create_glue_jobs(clients["glue"], cfg)
    create_buckets(clients["s3"], cfg)
    if snapshot_dt:
        put_snapshot(clients["s3"], cfg, snapshot_dt)
    create_catalog(clients["glue"], cfg)


def job_run_count(glue: Any, job_names: Iterable[str]) -> int:
    return sum(len(glue.get_job_runs(JobName=name)["JobRuns"]) for name in job_names)


# --- make demo ------------------------------------------------------------------------------------


def _seed(env: DemoEnv) -> None:
    glue = env.aws_client("glue")
    if glue.get_jobs()["Jobs"]:
        return  # the three specs share one account; seed once per demo run
    seed_account({"glue": glue, "s3": env.aws_client("s3")}, load_environment(DEMO_ENV), DEMO_SNAPSHOT)


def _connections(env: DemoEnv) -> dict[str, str]:
    return {load_environment(DEMO_ENV).aws_conn_id: env.aws_conn()}


def _counts(steps: tuple[str, ...], athena: bool = False) -> Any:
    def counts(env: DemoEnv) -> dict[str, Any]:
        cfg = load_environment(DEMO_ENV)
        jobs = sorted({cfg.job_name(STEPS[step].job) for step in steps})
        figures: dict[str, Any] = {"glue_job_runs": job_run_count(env.aws_client("glue"), jobs)}
        if athena:
            queries = env.aws_client("athena").list_query_executions().get("QueryExecutionIds", [])
            figures["msck_repair_queries"] = len(queries)
        return figures

    return counts


BUCKETED_STEPS = ("infobase_split_and_bucket", "addressable_bucket", "register_infobase",
                  "create_athena_bucketed_tables")
PARTITIONED_STEPS = ("infobase_split_and_part", "addressable_split_and_part", "register_part_tables",
                     "prepare_part_tables")

DEMOS = [
    DemoSpec("flywheel_bucketed", _seed, _connections, _counts(BUCKETED_STEPS),
             conf={"snapshot_dt": DEMO_SNAPSHOT, "tables_filter": ["addressable_ids", "ibe_01"]},
             variables={"flywheel_env": DEMO_ENV}, order=50),
    DemoSpec("flywheel_partitioned", _seed, _connections, _counts(PARTITIONED_STEPS, athena=True),
             conf={"snapshot_dt": DEMO_SNAPSHOT}, variables={"flywheel_env": DEMO_ENV}, order=51),
    DemoSpec("flywheel_reports", _seed, _connections, _counts(("generate_cleanrooms_report",)),
             variables={"flywheel_env": DEMO_ENV}, order=52),
]
