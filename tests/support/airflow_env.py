"""An isolated AIRFLOW_HOME for the test session, and helpers to run DAGs with ``dag.test()``.

``configure_airflow_home()`` must run before anything imports airflow: Airflow reads its home and
config at import time. The metadata DB is SQLite, migrated once into a template kept in .venv (keyed
by the Airflow version) and copied for each session, so only the first run pays for the migration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.local_airflow import AIRFLOW_CLI, DAGS_FOLDER, PROJECT_ROOT, airflow_environment

# DAGs that exist only for tests (e.g. one that fails on purpose); a second bundle, so dag.test() finds
# them while the integrity tests over dags/ never see them.
TEST_DAGS_FOLDER = PROJECT_ROOT / "tests" / "fixtures" / "dags"


def configure_airflow_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="pipelines-airflow-home-"))
    os.environ.update(
        {
            **airflow_environment(home, extra_bundles={"test-dags": TEST_DAGS_FOLDER}),
            "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }
    )
    return home


def _template_path() -> Path:
    from importlib.metadata import version

    cache = PROJECT_ROOT / ".venv" if (PROJECT_ROOT / ".venv").is_dir() else Path(tempfile.gettempdir())
    return cache / f"airflow-test-metadata-{version('apache-airflow-core')}.db"


def migrate_metadata_db() -> None:
    """Give this session's AIRFLOW_HOME a migrated metadata DB (copied from the cached template)."""
    template = _template_path()
    if not template.exists():
        partial = template.with_suffix(f".{os.getpid()}.partial")
        env = {**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{partial}"}
        subprocess.run([str(AIRFLOW_CLI), "db", "migrate"], env=env, check=True, capture_output=True)
        partial.replace(template)
    shutil.copyfile(template, Path(os.environ["AIRFLOW_HOME"]) / "airflow.db")


@dataclass(frozen=True)
class DagRunResult:
    """Outcome of one ``dag.test()`` run: the run's state and every task instance's state."""

    run_id: str
    state: str
    task_states: dict[tuple[str, int], str | None]
    rendered_map_indexes: dict[tuple[str, int], str | None]

    def state_of(self, task_id: str, map_index: int = -1) -> str | None:
        return self.task_states[(task_id, map_index)]

    def states_of(self, task_id: str) -> dict[int, str | None]:
        return {mi: st for (tid, mi), st in self.task_states.items() if tid == task_id}

    def try_number(self, task_id: str, map_index: int = -1) -> int:
        """How many tries the task instance took (1: it never retried)."""
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        with create_session() as session:
            return session.query(TaskInstance).filter_by(
                run_id=self.run_id, task_id=task_id, map_index=map_index).one().try_number

    def xcom(self, dag_id: str, task_id: str, map_index: int = -1, key: str = "return_value") -> Any:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            row = session.query(XComModel).filter_by(
                dag_id=dag_id, run_id=self.run_id, task_id=task_id, map_index=map_index, key=key
            ).one_or_none()
            return None if row is None else XComModel.deserialize_value(row)


def run_dag(dag: Any, conf: dict[str, Any] | None = None, **kwargs: Any) -> DagRunResult:
    """Run one DAG run in-process with ``dag.test(run_conf=...)`` and collect its task states."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    # Airflow 3.3.2's dag.test() crashes when a run of a DAG with a Deadline Alert succeeds (the in-memory DAG
    # holds the alert definitions where their database ids are expected); the scheduler e2e tests cover them.
    dag.deadline = None
    dag_run = dag.test(run_conf=conf, **kwargs)
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=dag_run.run_id).all()
        states = {(ti.task_id, ti.map_index): _state_name(ti.state) for ti in tis}
        labels = {(ti.task_id, ti.map_index): ti.rendered_map_index for ti in tis}
    return DagRunResult(dag_run.run_id, _state_name(dag_run.state), states, labels)


def _state_name(state: Any) -> str | None:
    return None if state is None else str(getattr(state, "value", state))


def load_dags(folder: Path = DAGS_FOLDER) -> dict[str, Any]:
    """Every DAG defined in ``folder`` by id (import errors raise, naming the file)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(folder))
    if bag.import_errors:
        raise AssertionError(f"DAG import errors: {bag.import_errors}")
    return dict(bag.dags)
