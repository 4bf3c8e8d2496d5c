"""``make demo`` for Fileload and Insight, and the stand-in program the demo runs in their place.

The demo gets its own partitions file (two partitions whose lock tables live in local PostgreSQL
databases standing in for SQL Server, and whose programs are this module run as a script), in a copy of
include/ that ``$PIPELINES_INCLUDE_DIR`` points the Airflow processes at. Partition b starts with a stale
Insight lock flag left by a crashed run; its Insight run is triggered with ``force_unlock`` and clears it.

Each partition's fileload reads its input file from the demo's inbox. ``make demo FAIL=fileload:<p>``
takes partition p's file away: its program exits 3 (as PUP_fileload does without input), the other
partition runs as usual; the repair puts the file back.

    python -m devtools.fileload_insight.demo STEP --record FILE [--sleep S] [--lockfile PATH] [--input PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from devtools.demo import DemoEnv, DemoFault, DemoSpec
from pipelines.common.paths import DEFAULT_INCLUDE_DIR, INCLUDE_DIR_ENV, read_sql
from pipelines.fileload_insight.config import CONFIG_FILE
from pipelines.fileload_insight.factory import FILELOAD, INSIGHT, dag_id

PARTITIONS = {"a": [1, 2, 3], "b": [4, 5, 6]}
STEP_SECONDS = 1
#: The exit code of a fileload without its input file.
NO_INPUT = 3


def _outcomes_db(env: DemoEnv, partition: str):
    return env.database("postgres", f"fli_outcomes_{partition}")


def _record_file(env: DemoEnv) -> Path:
    return env.work_dir / "fileload_insight_runs.jsonl"


def _input_file(env: DemoEnv, partition: str) -> Path:
    return env.work_dir / "inbox" / f"members_{partition}.csv"


def _deliver_input(env: DemoEnv, partition: str) -> None:
    """Partition ``partition``'s input file, as the upstream delivery leaves it (policy ids only)."""
    path = _input_file(env, partition)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("policy_id\n" + "".join(f"{policy}\n" for policy in PARTITIONS[partition]))


def _program(env: DemoEnv, step: str, *extra: str) -> dict[str, Any]:
    return {"argv": [sys.executable, "-m", "devtools.fileload_insight.demo", step, "--record",
                     str(_record_file(env)), "--sleep", str(STEP_SECONDS), *extra]}


def demo_partitions(env: DemoEnv) -> dict[str, Any]:
    return {
        "lock_dir": str(env.work_dir / "locks"),
        "lock_poke_seconds": 5,  # a waiting run's trigger reads the lock tables this often
        "stale_lock_minutes": 60,
        "partitions": {
            name: {
                "conn_id": f"mssql_partition_{name}",
                "member_repository_db": f"MemberRepository_{name.upper()}",
                "outcomes_identification_db": _outcomes_db(env, name).name,
                "policies": policies,
                "schedules": {"fileload": None, "insight": None},
                "fileload": _program(env, "fileload", "--lockfile", "{lockfile}",
                                     "--input", str(_input_file(env, name))),
                "insight": {"steps": [{"name": step, **_program(env, step)}
                                      for step in ("run_insight", "push_policies")]},
            }
            for name, policies in PARTITIONS.items()
        },
    }


def environment(env: DemoEnv) -> Mapping[str, str]:
    """Writes a copy of include/ with the demo partitions file and points the Airflow processes at it
    (the other families read the same configuration and SQL there as from include/)."""
    include = env.work_dir / "include"
    shutil.copytree(DEFAULT_INCLUDE_DIR, include, dirs_exist_ok=True)
    (include / "config" / CONFIG_FILE).write_text(yaml.safe_dump(demo_partitions(env), sort_keys=False))
    return {INCLUDE_DIR_ENV: str(include)}


def connections(env: DemoEnv) -> Mapping[str, str]:
    """The partitions' connections: their lock tables live in local PostgreSQL databases."""
    return {f"mssql_partition_{name}": _outcomes_db(env, name).airflow_conn() for name in PARTITIONS}


def seed(env: DemoEnv) -> None:
    """Empty lock tables; partition b has a stale Insight flag left by a crashed run (3 hours old)."""
    _record_file(env).unlink(missing_ok=True)
    for name in PARTITIONS:
        _deliver_input(env, name)
        with _outcomes_db(env, name).connect() as conn:
            conn.execute(read_sql("postgres/fileload_insight/lock_tables.sql"))
            conn.execute("DELETE FROM partition_run_lock")
            conn.execute("DELETE FROM insight_lock_flag")
    with _outcomes_db(env, "b").connect() as conn:
        conn.execute("INSERT INTO insight_lock_flag VALUES ('b', 'gr_insight__b', 'crashed_run', "
                     "now() - interval '3 hours')")


def _recorded_steps(env: DemoEnv) -> list[dict[str, Any]]:
    record = _record_file(env)
    return [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []


def counts_of(of_dag: str, partition: str) -> Callable[[DemoEnv], Mapping[str, Any]]:
    """The summary figures of one DAG: the steps its own runs ran, the run locks it still holds on its own
    partition and, for Insight, the lock flags left on that partition (what blocks its policy pushes)."""

    def counts(env: DemoEnv) -> Mapping[str, Any]:
        db = _outcomes_db(env, partition)
        figures = {
            "steps_run": sum(1 for step in _recorded_steps(env) if step.get("dag_id") == of_dag),
            "run_locks_held": db.scalar("SELECT count(*) FROM partition_run_lock WHERE dag_id = %s", (of_dag,)),
        }
        if of_dag.startswith(INSIGHT):
            figures["lock_flags_set"] = db.scalar("SELECT count(*) FROM insight_lock_flag")
        return figures

    return counts


def keep_state(env: DemoEnv) -> None:
    """Later runs of the family see what the earlier ones left (locks released, steps recorded)."""


def _spec(program: str, partition: str, order: int, seed_with: Any = keep_state, **kwargs: Any) -> DemoSpec:
    of_dag = dag_id(program, partition)
    return DemoSpec(dag_id=of_dag, seed=seed_with, connections=connections, environment=environment,
                    counts=counts_of(of_dag, partition), order=order, **kwargs)


def take_input_away(env: DemoEnv, partition: str) -> str:
    _input_file(env, partition).unlink(missing_ok=True)
    return (f"partition {partition}'s input file {_input_file(env, partition).name} is not in the demo inbox: "
            f"its fileload program exits {NO_INPUT}")


FAULT = DemoFault(
    family="fileload",
    dag_id=lambda partition: dag_id(FILELOAD, partition),
    targets="partition: " + "|".join(PARTITIONS),
    is_target=lambda partition: partition in PARTITIONS,
    arrange=take_input_away,
    repair=_deliver_input,
    failed_item=lambda partition: "fileload",
    rerun_conf=lambda partition: {},  # the DAG is the partition: a new run of it reruns the failed step
    # One retry, at once, instead of two 5 minutes apart.
    config={CONFIG_FILE: {"task_retries": 1, "retry_delay_seconds": 0}},
)

DEMOS = [
    _spec(FILELOAD, "a", 60, seed_with=seed),
    _spec(INSIGHT, "a", 61),
    _spec(FILELOAD, "b", 62),
    _spec(INSIGHT, "b", 63, conf={"force_unlock": True}),
]


def main(argv: list[str] | None = None) -> int:
    """The demo's stand-in for PUP_fileload and the Insight steps: says what it got, holds the lockfile."""
    parser = argparse.ArgumentParser()
    parser.add_argument("step")
    parser.add_argument("--record", type=Path, required=True)
    parser.add_argument("--sleep", type=float, default=0)
    parser.add_argument("--lockfile", type=Path)
    parser.add_argument("--input", type=Path, help="the input file a fileload needs")
    args = parser.parse_args(argv)
    if args.input and not args.input.exists():
        print(f"{args.step}: partition {os.environ.get('PARTITION')}: input file {args.input.name} missing",
              file=sys.stderr)
        return NO_INPUT
    if args.lockfile:
        args.lockfile.write_text(f"{os.getpid()}\n")
    try:
        print(f"{args.step}: partition {os.environ.get('PARTITION')} on {os.environ.get('DB_HOST')} "
              f"{os.environ.get('MEMBER_REPOSITORY_DB')} / {os.environ.get('OUTCOMES_IDENTIFICATION_DB')}, "
              f"policies {os.environ.get('POLICY_IDS')}, password given: {bool(os.environ.get('DB_PASSWORD'))}")
        time.sleep(args.sleep)
        with args.record.open("a") as record:
            record.write(json.dumps({"step": args.step, "partition": os.environ.get("PARTITION"),
                                     "dag_id": os.environ.get("PIPELINE_DAG_ID"),
                                     "run_id": os.environ.get("PIPELINE_RUN_ID")}) + "\n")
    finally:
        if args.lockfile:
            args.lockfile.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
