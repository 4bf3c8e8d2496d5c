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
other families' DAGs stay out). DAGs are unpaused at creation, so a DAG with a schedule starts the run of
its latest cron slot at once. A test that asserts on the runs it triggers passes ``MANUAL_RUNS_ONLY`` in
``env``: pausing the DAG and unpausing it later is not enough, since unpausing starts that slot too.
Each component's output goes to ``<home>/logs/<component>.log`` (``cluster.log_tail(name)``); task logs:
``cluster.task_log(...)``.

Every wait is on states, with a budget from ``deadline(seconds)``, the one place budgets are computed: the
seconds a loaded two-core machine needs, times ``PIPELINES_E2E_WAIT_FACTOR`` (default 1) for slower
machines. A wait that runs out raises ``ClusterError`` with ``cluster.diagnostics(runs)``: the states of the
runs' task instances and the tails of the scheduler, triggerer and dag-processor logs.
"""

from __future__ import annotations

import atexit
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from devtools.local_airflow import LocalAirflow, LocalAirflowError, server_environment
from devtools.localdb import Database, create_database, drop_database, free_port

COMPONENTS = ("api-server", "scheduler", "dag-processor")
TERMINAL_RUN_STATES = {"success", "failed"}
PAGE_LIMIT = 100  # Airflow's default [api] maximum_page_limit: a larger limit is cut to it
REDIS_URL = "redis://127.0.0.1:6379/0"
CELERY_WORKER_PREFIX = "celery-worker-"
#: Two workers on one machine share its hostname; this callable names each by its component instead,
#: so the ``hostname`` Airflow records on a task instance tells which worker ran it.
WORKER_HOSTNAME_CALLABLE = "tests.support.worker_hostname.hostname"
WAIT_FACTOR_ENV = "PIPELINES_E2E_WAIT_FACTOR"
DIAGNOSED_COMPONENTS = ("scheduler", "triggerer", "dag-processor")
#: The scheduler makes no run of its own (no cron slot, no asset event); triggered runs run as usual. Without
#: it a test's outcome depends on the time of day: between 01:00 and 06:00 Chicago time, for one, the latest
#: ``opendental_nightly`` slot passes the business-hours gate and copies every table.
MANUAL_RUNS_ONLY = {"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"}
T = TypeVar("T")

#: Raised when the cluster does not come up or answer, or a wait runs out; the message says why.
ClusterError = LocalAirflowError


def deadline(seconds: float) -> float:
    """The budget of an e2e wait, in seconds: ``seconds`` (what a loaded two-core machine needs; waits end
    as soon as the state is reached, so be generous) times ``PIPELINES_E2E_WAIT_FACTOR``."""
    return seconds * float(os.environ.get(WAIT_FACTOR_ENV) or 1)


@dataclass
class AirflowCluster(LocalAirflow):
    """A ``LocalAirflow`` with the REST API, waits on states and their diagnostics, and Celery workers."""

    metadata: Database | None = None
    login: tuple[str, str] | None = None  # (user, password); None: every user is admin, no login
    _token: str | None = None

    @classmethod
    def attach(cls, local: LocalAirflow, login: tuple[str, str] | None = None) -> AirflowCluster:
        """This REST client, waits and diagnostics on a ``LocalAirflow`` started elsewhere (``make airflow``)."""
        return cls(home=local.home, env=local.env, api_port=local.api_port, components=local.components,
                   processes=local.processes, restarts=local.restarts, login=login)

    # -- lifecycle -----------------------------------------------------------------------------------
    def start_and_wait(self, timeout: float = 240) -> None:
        self.start()
        self.wait_until(self.is_healthy, timeout, f"Airflow healthy ({', '.join(self.components)})",
                        logs=["api-server"], poll=0.5)
        self.wait_for_celery_workers(timeout)

    def command(self, component: str) -> tuple[list[str], dict[str, str]]:
        if component.startswith(CELERY_WORKER_PREFIX):
            # --skip-serve-logs: two workers on one machine would fight over the log server's port; the
            # task logs are files under this cluster's home anyway.
            args = ["celery", "worker", "--celery-hostname", f"{component}@%h", "--concurrency", "2",
                    "--queues", self.env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"], "--skip-serve-logs",
                    "--without-mingle", "--without-gossip"]
            return args, {**self.env, "PIPELINES_WORKER_NAME": component,
                          "AIRFLOW__CORE__HOSTNAME_CALLABLE": WORKER_HOSTNAME_CALLABLE}
        return super().command(component)

    @property
    def celery_workers(self) -> list[str]:
        return [name for name in self.components if name.startswith(CELERY_WORKER_PREFIX)]

    def wait_for_celery_workers(self, timeout: float) -> None:
        """Until every Celery worker has connected to the broker and said it is ready."""
        def all_ready() -> bool:
            return all(" ready." in self.log_tail(name, lines=200) for name in self.celery_workers)

        self.wait_until(all_ready, timeout, "every Celery worker ready", logs=self.celery_workers)

    # -- waits ---------------------------------------------------------------------------------------
    def wait_until(self, check: Callable[[], T], seconds: float, what: str, *,
                   runs: Iterable[tuple[str, str]] = (), logs: Iterable[str] = (), poll: float = 1) -> T:
        """Poll ``check()`` until it returns something truthy (returned) within ``deadline(seconds)``;
        a component that exits or a budget that runs out raises with the diagnostics of ``runs``."""
        runs, budget = list(runs), deadline(seconds)
        give_up = time.monotonic() + budget
        while True:
            self._check_alive(runs)
            result = check()
            if result:
                return result
            if time.monotonic() > give_up:
                raise ClusterError(f"{what}: not reached within {budget:.0f}s\n{self.diagnostics(runs, logs)}")
            time.sleep(poll)

    def _check_alive(self, runs: Iterable[tuple[str, str]] = ()) -> None:
        for name, code in self.dead().items():
            raise ClusterError(f"airflow {name} exited with {code}:\n{self.log_tail(name)}\n{self.diagnostics(runs)}")

    def diagnostics(self, runs: Iterable[tuple[str, str]] = (), logs: Iterable[str] = ()) -> str:
        """What explains a wait that ran out: each run's state and task instances (state, try, map index),
        the error lines and tails of the scheduler, triggerer and dag-processor logs."""
        parts = []
        for dag_id, run_id in runs:
            try:
                state = self.run_state(dag_id, run_id)
                instances = sorted(self.task_instances(dag_id, run_id),
                                   key=lambda ti: (ti["task_id"], ti["map_index"]))
                lines = [f"  {ti['task_id']}[{ti['map_index']}] {ti['state']} try={ti['try_number']}"
                         for ti in instances]
                parts.append(f"--- {dag_id} {run_id}: {state}\n" + "\n".join(lines))
            except (ClusterError, OSError) as exc:
                parts.append(f"--- {dag_id} {run_id}: could not be read ({exc})")
        for name in (*DIAGNOSED_COMPONENTS, *logs):
            if name not in self.components:
                continue
            errors = [line for line in self.log_tail(name, lines=5000).splitlines()
                      if "[error" in line or "state mismatch" in line][-10:]
            if errors:
                parts.append(f"--- {name}.log, last error lines:\n" + "\n".join(errors))
            parts.append(f"--- {name}.log, tail:\n{self.log_tail(name, lines=40)}")
        return "\n".join(parts)

    # -- REST API ------------------------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            request = urllib.request.Request(f"{self.base_url}/auth/token")
            if self.login is not None:
                user, password = self.login
                request = urllib.request.Request(
                    f"{self.base_url}/auth/token", method="POST", headers={"Content-Type": "application/json"},
                    data=json.dumps({"username": user, "password": password}).encode())
            with urllib.request.urlopen(request, timeout=10) as reply:
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

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 240) -> None:
        """Until the dag-processor has parsed every DAG in ``dag_ids`` (import errors are raised)."""
        wanted = set(dag_ids)

        def all_parsed() -> bool:
            known = {dag["dag_id"] for dag in self.api("GET", "dags?limit=1000")["dags"]}
            if wanted <= known:
                return True
            errors = self.api("GET", "importErrors")["import_errors"]
            if errors:
                raise ClusterError(f"DAG import errors: {[e['stack_trace'][-300:] for e in errors]}")
            return False

        self.wait_until(all_parsed, timeout, f"DAGs parsed: {sorted(wanted)}")

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        run = self.api("POST", f"dags/{dag_id}/dagRuns", {"logical_date": None, "conf": dict(conf or {})})
        return run["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}")["state"]

    def wait_for_runs(self, runs: Iterable[tuple[str, str]], timeout: float = 600) -> dict[tuple[str, str], str]:
        """Until every (dag_id, run_id) has finished; returns their end states."""
        runs = list(runs)
        states: dict[tuple[str, str], str] = {}

        def all_finished() -> bool:
            for key in runs:
                try:
                    state = None if key in states else self.run_state(*key)
                except TimeoutError:
                    return False  # a busy api-server answers late: ask again, the budget still bounds the wait
                if state in TERMINAL_RUN_STATES:
                    states[key] = state
            return len(states) == len(runs)

        self.wait_until(all_finished, timeout, "every run finished", runs=runs)
        return states

    def wait_for_first_run(self, dag_id: str, run_type: str = "scheduled", timeout: float = 240) -> dict[str, Any]:
        """The first run of ``run_type`` the scheduler creates for ``dag_id`` (e.g. the nightly run for the
        latest cron point, as soon as the DAG appears), as the REST API reports it once it has finished."""
        def first_run() -> tuple[str, str] | None:
            runs = [run for run in self.api("GET", f"dags/{dag_id}/dagRuns?limit=100")["dag_runs"]
                    if run["run_type"] == run_type]
            return (dag_id, min(runs, key=lambda run: run["run_after"])["dag_run_id"]) if runs else None

        run = self.wait_until(first_run, timeout, f"a {run_type} run of {dag_id} created")
        self.wait_for_runs([run])
        return self.api("GET", f"dags/{dag_id}/dagRuns/{run[1]}")

    def task_log(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1, try_number: int | None = None
                 ) -> str:
        """Every attempt's log of one task instance (a mapped one's by ``map_index``), or the attempt
        ``try_number``'s only, as the LocalExecutor's workers wrote them."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            folder /= f"map_index={map_index}"
        pattern = "*.log" if try_number is None else f"attempt={try_number}.log"
        return "\n".join(path.read_text(errors="replace") for path in sorted(folder.rglob(pattern)))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run, mapped ones included, as the REST API reports them: page by page,
        since one call returns at most ``[api] maximum_page_limit`` (100) of them, in id order."""
        path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        instances: list[dict[str, Any]] = []
        while True:
            page = self.api("GET", f"{path}?limit={PAGE_LIMIT}&offset={len(instances)}")
            instances += page["task_instances"]
            if not page["task_instances"] or len(instances) >= page["total_entries"]:
                return instances

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """A task's XCom value as it returned it (the API hands the stored JSON back, as text or decoded)."""
        value = self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}")["value"]
        return json.loads(value) if isinstance(value, str) else value

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        instances = self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {ti["task_id"]: ti["state"] for ti in instances}


def cluster_environment(home: Path, metadata: Database, api_port: int, dags_folder: Path,
                        extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of every component: the local Airflow's, no login (every user is admin)."""
    return server_environment(home, metadata.url, api_port, dags_folder=dags_folder, extra={
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        **extra,
    })


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
                    celery_workers: int = 0, start_timeout: float = 240) -> Iterator[AirflowCluster]:
    """Migrate a fresh metadata DB, import the pools, start the components; stop and drop everything after."""
    metadata = create_database("postgres", prefix="pipelines_e2e_airflow")
    api_port = free_port()
    extra = {**(celery_environment(metadata) if celery_workers else {}), **(env or {})}
    components = (*components, *(f"{CELERY_WORKER_PREFIX}{n}" for n in range(1, celery_workers + 1)))
    cluster = AirflowCluster(home=home, metadata=metadata, api_port=api_port, components=components,
                             env=cluster_environment(home, metadata, api_port, dags_folder, extra))
    atexit.register(cluster.stop)  # if the test process is interrupted before the finally below
    try:
        cluster.prepare(pools_file)
        cluster.start_and_wait(start_timeout)
        yield cluster
    finally:
        cluster.stop()
        atexit.unregister(cluster.stop)
        drop_database(metadata)
