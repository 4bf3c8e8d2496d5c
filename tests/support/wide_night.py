"""A wide OpenDental night under a real Airflow, shared by ``make bench-scheduler`` and the wide-night e2e test:
a source of N generated OpenDental tables (``devtools.opendental.wide``), an empty replica and analytics
database, and an ``airflow_cluster`` (LocalExecutor, the project's pools) parsing only ``opendental_nightly``.

The scheduler logs each loop's duration (``Ran scheduling loop in X ms``, a debug line of its job runner
only), so a run's scheduler loop times can be read from its log without a StatsD server.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.localdb import create_database, drop_database
from devtools.opendental.wide import seed_source, wide_tables, write_include
from pipelines.common.paths import INCLUDE_DIR_ENV
from tests.integration.opendental.odsupport import Stack
from tests.support.airflow_cluster import MANUAL_RUNS_ONLY, AirflowCluster, airflow_cluster

DAG_ID = "opendental_nightly"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = PROJECT_ROOT / "dags" / f"{DAG_ID}.py"
POOLS_FILE = PROJECT_ROOT / "include" / "config" / "pools.json"
SCHEDULER_LOOP_LOGGER = {"AIRFLOW__LOGGING__NAMESPACE_LEVELS": "airflow.jobs.scheduler_job_runner=DEBUG"}


@dataclass
class WideNight:
    cluster: AirflowCluster
    stack: Stack
    source_rows: dict[str, int]  # table -> rows generated at the source

    def trigger(self, parallel: int) -> str:
        """A manual run over every table (``tables`` left to its default), ``parallel`` tables at a time."""
        conf = {"allow_business_hours": True, "parallel": parallel, "force": False, "dry_run": False}
        return self.cluster.trigger(DAG_ID, conf=conf)


@contextmanager
def od_databases() -> Iterator[Stack]:
    """A fresh source, replica (MariaDB) and analytics (PostgreSQL) database, dropped afterwards."""
    made = []
    try:
        for engine in ("mysql", "mysql", "postgres"):
            made.append(create_database(engine))
        yield Stack(*made)
    finally:
        for database in made:
            drop_database(database)


def dags_folder(root: Path) -> Path:
    """A folder holding only the OpenDental DAG (a symlink): the dag-processor parses nothing else."""
    folder = root / "dags"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / DAG_FILE.name).symlink_to(DAG_FILE)
    return folder


@contextmanager
def wide_night(root: Path, tables: int, rows: int, *, most_shared: int | None = None,
               config: Mapping[str, Mapping[str, Any]] | None = None) -> Iterator[WideNight]:
    """``tables`` tables of about ``rows`` rows at the source (at most ``most_shared`` of the shared DDL, the
    rest generated), and a healthy cluster whose ``opendental_nightly`` is parsed; ``config`` changes
    sections of the run's opendental.yaml."""
    with od_databases() as stack:
        with stack.source.connect() as conn:
            source_rows = seed_source(conn, wide_tables(tables, rows, most_shared=most_shared))
        include = write_include(root, **(config or {}))
        cluster_env = {INCLUDE_DIR_ENV: str(include), **MANUAL_RUNS_ONLY, **SCHEDULER_LOOP_LOGGER,
                       **stack.connections_env()}
        with airflow_cluster(dags_folder(root), root / "home", env=cluster_env, pools_file=POOLS_FILE) as cluster:
            cluster.wait_for_dags([DAG_ID])
            yield WideNight(cluster, stack, source_rows)
