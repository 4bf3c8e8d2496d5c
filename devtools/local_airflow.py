"""The one builder of a local Airflow, shared by ``make demo`` / ``make airflow`` (scripts/demo.py,
devtools/demo.py), the test session (tests/support/airflow_env.py) and the end-to-end clusters
(tests/support/airflow_cluster.py).

``airflow_environment`` gives what every local Airflow of this project needs (its home, metadata DB, the
project's dags/ and plugins/, no example DAGs, the project on PYTHONPATH for task processes);
``server_environment`` adds what Airflow's separate components need to work together (one JWT secret, the
execution API's URL, free ports for the log and health servers, the api-server on 127.0.0.1 only);
``LocalAirflow`` starts, watches, restarts and stops those components. Each caller adds what is its own
(the demo's UI login, the tests' second DAG bundle, a cluster's executor and ports).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.localdb import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAGS_FOLDER = PROJECT_ROOT / "dags"
PLUGINS_FOLDER = PROJECT_ROOT / "plugins"
AIRFLOW_CLI = Path(sys.executable).with_name("airflow")
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
DAGS_BUNDLE = "dags-folder"
#: Airflow 3's components, each its own process (what ``airflow standalone`` runs, minus SQLite).
SERVER_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
#: What /api/v2/monitor/health calls each component.
HEALTH_NAMES = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}


def airflow_environment(home: Path, metadata_url: str | None = None, *, dags_folder: Path = DAGS_FOLDER,
                        extra_bundles: Mapping[str, Path] | None = None) -> dict[str, str]:
    """Airflow settings for a local Airflow in ``home``.

    The metadata DB is ``metadata_url``, else SQLite in ``home``. ``dags_folder`` is the ``dags-folder``
    bundle; ``extra_bundles`` (name → folder) are more local bundles, e.g. DAGs that exist only for tests.
    """
    bundles = {DAGS_BUNDLE: dags_folder, **(extra_bundles or {})}
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url or f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
            [{"name": name, "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(folder)}}
             for name, folder in bundles.items()]
        ),
        # Task processes and programs they start import pipelines (and the demo's stand-ins) like `make` does.
        "PYTHONPATH": os.pathsep.join([str(PLUGINS_FOLDER), str(PROJECT_ROOT)]),
    }


def server_environment(home: Path, metadata_url: str, api_port: int, *, dags_folder: Path = DAGS_FOLDER,
                       extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every component of a local Airflow with its metadata in ``metadata_url``
    (PostgreSQL: several processes write at once), the LocalExecutor and the api-server on 127.0.0.1.
    Nothing ``AIRFLOW*`` is inherited from the calling process."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    return {
        **inherited,
        **airflow_environment(home, metadata_url, dags_folder=dags_folder),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__WORKERS": "1",
        # One secret for every component, or the scheduler's task tokens fail at the api-server.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        # The defaults (8793, 8794, 8974) would collide with another local Airflow on this machine.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS": "False",
        **(extra or {}),
    }


class LocalAirflowError(RuntimeError):
    """A command or component failed; the message carries the tail of its output."""


@dataclass
class LocalAirflow:
    """Airflow's components as separate processes, each logging to ``<home>/logs/<component>.log``.

    ``start()`` starts them; ``restart_dead()`` restarts those that exited (``supervise()`` does it until
    interrupted); ``stop()`` stops them all, their children included."""

    home: Path
    env: dict[str, str]
    api_port: int
    components: tuple[str, ...] = SERVER_COMPONENTS
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    restarts: Counter = field(default_factory=Counter)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run ``airflow <args>`` against this Airflow's metadata DB; raises with the output's tail."""
        result = subprocess.run([str(AIRFLOW_CLI), *args], env=self.env, capture_output=True, text=True,
                                timeout=timeout, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise LocalAirflowError(f"airflow {' '.join(args[:2])} failed ({result.returncode}):\n{tail}")
        return result

    def prepare(self, pools_file: Path | None = None) -> None:
        """Migrate the metadata DB and import the pools (both idempotent)."""
        self.cli("db", "migrate")
        if pools_file is not None and json.loads(pools_file.read_text()):
            self.cli("pools", "import", str(pools_file))

    # -- processes -----------------------------------------------------------------------------------
    def log_path(self, component: str) -> Path:
        return self.home / "logs" / f"{component}.log"

    def log_tail(self, component: str, lines: int = 30) -> str:
        path = self.log_path(component)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def command(self, component: str) -> tuple[list[str], dict[str, str]]:
        """The ``airflow`` arguments and environment of one component."""
        if component == "api-server":
            return [component, "--host", "127.0.0.1", "--port", str(self.api_port)], self.env
        return [component], self.env

    def start(self) -> None:
        self.log_path("any").parent.mkdir(parents=True, exist_ok=True)
        for component in self.components:
            self._launch(component, mode="w")

    def _launch(self, component: str, mode: str) -> None:
        args, env = self.command(component)
        with self.log_path(component).open(mode) as log:
            if mode == "a":
                log.write(f"\n==== restarted after an exit (restart #{self.restarts[component]}) ====\n")
                log.flush()
            self.processes[component] = subprocess.Popen(
                [str(AIRFLOW_CLI), *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() takes its workers down too
            )

    def dead(self) -> dict[str, int]:
        """{component: exit code} of the components whose process has exited."""
        return {name: code for name, process in self.processes.items() if (code := process.poll()) is not None}

    def restart_dead(self, announce: Callable[[str], None]) -> list[str]:
        """Restart every component that exited, announcing each by name; returns their names."""
        dead = self.dead()
        for name, code in dead.items():
            self._kill_group(self.processes[name])  # what it started may still run
            self.restarts[name] += 1
            announce(f"!!! airflow {name} EXITED with code {code}; restarting it (restart #{self.restarts[name]}, "
                     f"log: {self.log_path(name)})")
            self._launch(name, mode="a")
        return list(dead)

    def supervise(self, announce: Callable[[str], None], poll: float = 2) -> None:
        """Restart components that exit, until interrupted (Ctrl-C)."""
        while True:
            self.restart_dead(announce)
            time.sleep(poll)

    def stop(self, grace: float = 10) -> None:
        """SIGTERM every component's process group, SIGKILL what is left after ``grace`` seconds."""
        for process in self.processes.values():
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        killed_at = time.monotonic() + grace
        for process in self.processes.values():
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, killed_at - time.monotonic()))
            self._kill_group(process)
        self.processes.clear()

    @staticmethod
    def _kill_group(process: subprocess.Popen) -> None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)

    # -- health --------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """/api/v2/monitor/health, or {} while the api-server does not answer."""
        with suppress(OSError, ValueError), \
                urllib.request.urlopen(f"{self.base_url}/api/v2/monitor/health", timeout=3) as reply:
            return json.load(reply)
        return {}

    def is_healthy(self) -> bool:
        wanted = {"metadatabase"} | {HEALTH_NAMES[c] for c in self.components if c in HEALTH_NAMES}
        health = self.health()
        return all((health.get(part) or {}).get("status") == "healthy" for part in wanted)

    def wait_until_healthy(self, timeout: float) -> None:
        """Until every component reports healthy; raises naming the component that exited or the scheduler."""
        give_up = time.monotonic() + timeout
        while not self.is_healthy():
            dead = self.dead()
            if dead or time.monotonic() > give_up:
                name = next(iter(dead), "scheduler")
                raise LocalAirflowError(f"the local Airflow is not healthy after {timeout:.0f}s "
                                        f"({self.health() or 'no answer'}); airflow {name} log:\n{self.log_tail(name)}")
            time.sleep(1)
