"""A real Airflow for end-to-end tests: api-server, scheduler, dag-processor (and optionally triggerer)
with the LocalExecutor, metadata in a throwaway local PostgreSQL database, free ports everywhere.
With ``celery_workers=N`` it runs the CeleryExecutor instead, with N ``airflow celery worker`` processes
fed through the local Redis on a queue of its own (so clusters side by side never take each other's tasks).

What ``dag.test()`` cannot show (pools, reschedule-mode sensors, several runs at once, max_active_runs)
needs the scheduler. Use it as a context manager, which stops every process even when the test fails::

    with airflow_cluster(dags_folder, tmp_path / "home", env={"AIRFLOW_CONN_X": ...},
                         pools_file=pools_file()) as cluster:
        cluster.wait_for_dags(["my_dag"])
        run_id = cluster.trigger("my_dag", conf={})
        assert cluster.wait_for_runs([("my_dag", run_id)]) == {("my_dag", run_id): "success"}

``dags_folder`` is best a folder holding symlinks to just the DAG files under test (parsing is faster and
other families' DAGs stay out). DAGs are unpaused at creation, so a DAG with a schedule may start a run
of its own: give tests ``schedule=None`` configs, or pass ``AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True``
in ``env`` and call ``cluster.unpause(dag_id)``. Each component's output goes to
``<home>/logs/<component>.log`` (``cluster.log_tail(name)``); task logs: ``cluster.task_log(...)``.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.local_airflow import AIRFLOW_CLI, airflow_environment
from devtools.localdb import Database, create_database, drop_database, free_port

COMPONENTS = ("api-server", "scheduler", "dag-processor")
TERMINAL_RUN_STATES = {"success", "failed"}
REDIS_URL = "redis://127.0.0.1:6379/0"
CELERY_WORKER_PREFIX = "celery-worker-"
#: Two workers on one machine share its hostname; this callable names each by its component instead,
#: so the ``hostname`` Airflow records on a task instance tells which worker ran it.
WORKER_HOSTNAME_CALLABLE = "tests.support.worker_hostname.hostname"


class ClusterError(RuntimeError):
    """The cluster did not come up or did not answer; the message names the component log to read."""


@dataclass
class AirflowCluster:
    home: Path
    metadata: Database
    api_port: int
    env: dict[str, str]
    components: tuple[str, ...] = COMPONENTS
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _token: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    # -- lifecycle -----------------------------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """Run ``airflow <args>`` against this cluster's metadata DB; raises with the output's tail."""
        result = subprocess.run([str(AIRFLOW_CLI), *args], env=self.env, capture_output=True, text=True,
                                timeout=timeout, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise ClusterError(f"airflow {' '.join(args[:2])} failed ({result.returncode}):\n{tail}")
        return result

    def start(self, timeout: float = 120) -> None:
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        for component in self.components:
            log = (self.home / "logs" / f"{component}.log").open("w")
            args, env = self._command(component)
            self.processes[component] = subprocess.Popen(
                [str(AIRFLOW_CLI), *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() takes its workers down too
            )
        self.wait_until_healthy(timeout)
        self.wait_for_celery_workers(timeout)

    def _command(self, component: str) -> tuple[list[str], dict[str, str]]:
        if component == "api-server":
            return [component, "--port", str(self.api_port)], self.env
        if component.startswith(CELERY_WORKER_PREFIX):
            # --skip-serve-logs: two workers on one machine would fight over the log server's port; the
            # task logs are files under this cluster's home anyway.
            args = ["celery", "worker", "--celery-hostname", f"{component}@%h", "--concurrency", "2",
                    "--queues", self.env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"], "--skip-serve-logs",
                    "--without-mingle", "--without-gossip"]
            return args, {**self.env, "PIPELINES_WORKER_NAME": component,
                          "AIRFLOW__CORE__HOSTNAME_CALLABLE": WORKER_HOSTNAME_CALLABLE}
        return [component], self.env

    @property
    def celery_workers(self) -> list[str]:
        return [name for name in self.components if name.startswith(CELERY_WORKER_PREFIX)]

    def wait_for_celery_workers(self, timeout: float) -> None:
        """Until every Celery worker has connected to the broker and said it is ready."""
        deadline = time.monotonic() + timeout
        waiting = set(self.celery_workers)
        while waiting and time.monotonic() < deadline:
            self._check_alive()
            waiting = {name for name in waiting if " ready." not in self.log_tail(name, lines=200)}
            if waiting:
                time.sleep(0.5)
        if waiting:
            raise ClusterError(f"Celery workers not ready after {timeout:.0f}s: {sorted(waiting)}\n"
                               + "\n".join(self.log_tail(name) for name in sorted(waiting)))

    def stop(self, grace: float = 10) -> None:
        """SIGTERM every component's process group, SIGKILL what is left after ``grace`` seconds."""
        for process in self.processes.values():
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        self.processes.clear()

    def log_tail(self, component: str, lines: int = 30) -> str:
        path = self.home / "logs" / f"{component}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise ClusterError(f"airflow {name} exited with {process.returncode}:\n{self.log_tail(name)}")

    def wait_until_healthy(self, timeout: float) -> None:
        wanted = {"metadatabase", "scheduler"} | ({"dag_processor"} if "dag-processor" in self.components else set())
        if "triggerer" in self.components:
            wanted.add("triggerer")
        deadline = time.monotonic() + timeout
        health: dict[str, Any] = {}
        while time.monotonic() < deadline:
            self._check_alive()
            with suppress(OSError, ValueError):
                with urllib.request.urlopen(f"{self.base_url}/api/v2/monitor/health", timeout=3) as reply:
                    health = json.load(reply)
                if all((health.get(part) or {}).get("status") == "healthy" for part in wanted):
                    return
            time.sleep(0.5)
        raise ClusterError(f"Airflow not healthy after {timeout:.0f}s: {health}\n{self.log_tail('scheduler')}")

    # -- REST API ------------------------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            with urllib.request.urlopen(f"{self.base_url}/auth/token", timeout=10) as reply:
                self._token = json.load(reply)["access_token"]
        return self._token

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call ``/api/v2/<path>`` and return the decoded JSON; HTTP errors raise with the response body."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}/api/v2/{path.lstrip('/')}", data=data, method=method,
            headers={"Authorization": f"Bearer {self.token()}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                payload = reply.read()
        except urllib.error.HTTPError as exc:
            raise ClusterError(f"{method} {path}: HTTP {exc.code} {exc.read().decode(errors='replace')}") from None
        return json.loads(payload) if payload else None

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 90) -> None:
        """Until the dag-processor has parsed every DAG in ``dag_ids`` (import errors are raised)."""
        missing = set(dag_ids)
        deadline = time.monotonic() + timeout
        while missing and time.monotonic() < deadline:
            self._check_alive()
            known = {dag["dag_id"] for dag in self.api("GET", "dags?limit=1000")["dags"]}
            missing -= known
            if missing:
                errors = self.api("GET", "importErrors")["import_errors"]
                if errors:
                    raise ClusterError(f"DAG import errors: {[e['stack_trace'][-300:] for e in errors]}")
                time.sleep(1)
        if missing:
            raise ClusterError(f"DAGs not parsed within {timeout:.0f}s: {sorted(missing)}\n"
                               f"{self.log_tail('dag-processor')}")

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        run = self.api("POST", f"dags/{dag_id}/dagRuns", {"logical_date": None, "conf": dict(conf or {})})
        return run["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}")["state"]

    def wait_for_runs(self, runs: Iterable[tuple[str, str]], timeout: float = 120) -> dict[tuple[str, str], str]:
        """Until every (dag_id, run_id) has finished; returns their end states."""
        pending = set(runs)
        states: dict[tuple[str, str], str] = {}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            self._check_alive()
            for key in list(pending):
                state = self.run_state(*key)
                if state in TERMINAL_RUN_STATES:
                    states[key] = state
                    pending.discard(key)
            if pending:
                time.sleep(1)
        if pending:
            raise ClusterError(f"runs still going after {timeout:.0f}s: {sorted(pending)}")
        return states

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        """Every attempt's log of one task instance, as the LocalExecutor's workers wrote them."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return "\n".join(path.read_text(errors="replace") for path in sorted(folder.rglob("*.log")))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run, mapped ones included, as the REST API reports them."""
        return self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000")["task_instances"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        instances = self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {ti["task_id"]: ti["state"] for ti in instances}


def cluster_environment(home: Path, metadata: Database, api_port: int, dags_folder: Path,
                        extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of every component: nothing inherited from this test session's own Airflow."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    return {
        **inherited,
        **airflow_environment(home, metadata.url, dags_folder=dags_folder),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__WORKERS": "1",
        # One secret for every component, or the scheduler's task tokens fail at the api-server.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        # The defaults (8793, 8794, 8974) would collide with another cluster on this machine.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS": "False",
        **extra,
    }


def celery_environment(metadata: Database) -> dict[str, str]:
    """The CeleryExecutor on the local Redis, results in the metadata database, a queue of this cluster's own."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata.url}",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": f"e2e_{metadata.name}",
    }


@contextmanager
def airflow_cluster(dags_folder: Path, home: Path, *, env: Mapping[str, str] | None = None,
                    pools_file: Path | None = None, components: tuple[str, ...] = COMPONENTS,
                    celery_workers: int = 0, start_timeout: float = 120) -> Iterator[AirflowCluster]:
    """Migrate a fresh metadata DB, import the pools, start the components; stop and drop everything after."""
    metadata = create_database("postgres", prefix="pipelines_e2e_airflow")
    api_port = free_port()
    extra = {**(celery_environment(metadata) if celery_workers else {}), **(env or {})}
    components = (*components, *(f"{CELERY_WORKER_PREFIX}{n}" for n in range(1, celery_workers + 1)))
    cluster = AirflowCluster(home=home, metadata=metadata, api_port=api_port, components=components,
                             env=cluster_environment(home, metadata, api_port, dags_folder, extra))
    atexit.register(cluster.stop)  # if the test process is interrupted before the finally below
    try:
        cluster.cli("db", "migrate")
        if pools_file is not None:
            cluster.cli("pools", "import", str(pools_file))
        cluster.start(start_timeout)
        yield cluster
    finally:
        cluster.stop()
        atexit.unregister(cluster.stop)
        drop_database(metadata)
