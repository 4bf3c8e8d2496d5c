"""The contract between ``make demo`` and each pipeline family.

A family takes part in the demo by giving ``devtools/<family>/demo.py`` (next to its generators and seeds,
outside the deployable ``plugins/pipelines``) a module-level ``DEMOS: list[DemoSpec]``. The demo runner
(scripts/demo.py) finds those modules, seeds their data into local stand-ins (MariaDB, PostgreSQL, an
in-process moto server), defines their connections through ``AIRFLOW_CONN_*`` variables, runs each DAG once
with ``airflow dags test`` and prints a summary with the counts each spec reports.

``served_airflow()`` is ``make airflow``: the same stand-ins and seeds behind a local Airflow on real
components (api-server on 127.0.0.1, scheduler, dag-processor, triggerer; LocalExecutor; metadata in the local
PostgreSQL), with the pools imported, and an env file that gives a shell's ``airflow`` the same setup.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import shlex
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devtools.local_airflow import (
    AIRFLOW_CLI,
    PROJECT_ROOT,
    SERVER_COMPONENTS,
    LocalAirflow,
    airflow_environment,
    server_environment,
)
from devtools.localdb import Database, MotoEndpoint, conn_env_name, create_database, drop_database, moto_server
from pipelines.common.paths import INCLUDE_DIR_ENV

DEMO_DB_PREFIX = "pipelines_demo"
#: ``make airflow`` keeps its demo data apart from ``make demo``'s: each re-creates its databases at start, so a
#: demo run while the local Airflow serves must not pull the served DAGs' data away.
LOCAL_DB_PREFIX = "pipelines_local"
DEMO_USER = "admin"
#: Written by ``served_airflow()`` in the Airflow home; ``make shell`` sources it.
ENV_FILE_NAME = "airflow.env"
#: Glue job runs of the moto stand-in take this long per state (STARTING, RUNNING), and the served Airflow
#: polls them this often (production: 60 s): a Flywheel run then takes about a minute.
GLUE_SECONDS_PER_STATE = 4
LOCAL_GLUE_POLL_SECONDS = 3


@dataclass
class DemoEnv:
    """Local stand-ins for production systems, handed to each spec's seed / connections / counts."""

    aws: MotoEndpoint
    work_dir: Path
    db_prefix: str = DEMO_DB_PREFIX
    #: Use the databases as the last demo left them (a rerun) instead of re-creating them empty.
    keep_data: bool = False
    _databases: dict[tuple[str, str], Database] = field(default_factory=dict)

    def database(self, engine: str, name: str) -> Database:
        """The demo database ``<db_prefix>_<name>`` (``pipelines_demo_<name>``) on the local ``postgres`` or
        ``mysql`` server.

        Created empty on its first use in a demo run, so every run starts from the same seed."""
        key = (engine, name)
        if key not in self._databases:
            full_name = f"{self.db_prefix}_{name}"
            self._databases[key] = Database(engine, full_name) if self.keep_data else \
                create_database(engine, name=full_name)
        return self._databases[key]

    def drop_databases(self) -> None:
        for db in self._databases.values():
            drop_database(db)
        self._databases.clear()

    def aws_conn(self) -> str:
        return self.aws.airflow_conn()

    def aws_client(self, service: str) -> Any:
        return self.aws.client(service)


@dataclass(frozen=True)
class DemoSpec:
    """One DAG run of the demo.

    ``seed(env)`` loads demo data; ``connections(env)`` returns ``{conn_id: connection JSON}``;
    ``environment(env)`` returns other variables the Airflow processes need (e.g. a config file path);
    ``counts(env)`` returns the key figures shown in the summary after the run.
    """

    dag_id: str
    seed: Callable[[DemoEnv], None]
    connections: Callable[[DemoEnv], Mapping[str, str]]
    counts: Callable[[DemoEnv], Mapping[str, Any]] | None = None
    environment: Callable[[DemoEnv], Mapping[str, str]] | None = None
    conf: Mapping[str, Any] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)
    expect_state: str = "success"
    order: int = 100


@dataclass(frozen=True)
class DemoFault:
    """A failure ``make demo FAIL=<family>:<target>`` arranges for one partition or table of a family, for a
    real reason set up in the demo's data, programs or configuration (never in ``plugins/pipelines``).

    ``dag_id(target)`` is the DAG that fails; ``arrange(env, target)`` breaks it after the seed and returns
    one line saying what is broken; ``repair(env, target)`` removes exactly that; ``failed_item(target)``
    is the task instance that must fail, as its alert names it (``stage_partition [rem=1/4]``);
    ``rerun_conf(target)`` is the conf of a run of that partition only, the README's "trigger a new run
    with ..." form of the family's rerun recipe. ``config`` changes the demo's copy of include/config so a
    failing try is retried at once, not minutes later (``{file: {key: value or {key: value}}}``)."""

    family: str
    dag_id: Callable[[str], str]
    targets: str
    is_target: Callable[[str], bool]
    arrange: Callable[[DemoEnv, str], str]
    repair: Callable[[DemoEnv, str], None]
    failed_item: Callable[[str], str]
    rerun_conf: Callable[[str], Mapping[str, Any]]
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _family_modules() -> Iterator[Any]:
    """Every ``devtools.<family>.demo`` module."""
    import devtools

    for family in pkgutil.iter_modules(devtools.__path__):
        if not family.ispkg:
            continue
        try:
            yield importlib.import_module(f"devtools.{family.name}.demo")
        except ModuleNotFoundError as exc:
            if exc.name != f"devtools.{family.name}.demo":
                raise


def discover_faults() -> dict[str, DemoFault]:
    """The families' ``FAULT`` (a ``DemoFault``) by family name."""
    faults = [getattr(module, "FAULT", None) for module in _family_modules()]
    return {fault.family: fault for fault in faults if fault is not None}


def chosen_fault(request: str) -> tuple[DemoFault, str]:
    """``<family>:<target>`` (``appxml:1``) as the family's fault and its target; a ValueError names what
    the families accept."""
    faults = discover_faults()
    family, _, target = request.partition(":")
    accepted = "; ".join(f"{name}:<{fault.targets}>" for name, fault in sorted(faults.items()))
    if family not in faults:
        raise ValueError(f"FAIL={request}: unknown family {family!r}; one of: {accepted}")
    fault = faults[family]
    if not fault.is_target(target):
        raise ValueError(f"FAIL={request}: {family} takes {family}:<{fault.targets}>")
    return fault, target


def merge_config(include: Path, changes: Mapping[str, Mapping[str, Any]]) -> None:
    """Merge ``{file: {section: {key: value}}}`` into the YAML files of ``include/config`` (a demo copy)."""
    for name, sections in changes.items():
        path = include / "config" / name
        data = yaml.safe_load(path.read_text())
        for section, values in sections.items():
            if isinstance(values, Mapping):
                data.setdefault(section, {}).update(values)
            else:
                data[section] = values
        path.write_text(yaml.safe_dump(data, sort_keys=False))


def discover_demos() -> list[DemoSpec]:
    """Every ``DEMOS`` list found in ``devtools.<family>.demo`` modules, in run order."""
    specs = [spec for module in _family_modules() for spec in getattr(module, "DEMOS", [])]
    return sorted(specs, key=lambda spec: (spec.order, spec.dag_id))


def stand_in_settings(specs: list[DemoSpec], demo_env: DemoEnv) -> dict[str, str]:
    """AIRFLOW_CONN_* / AIRFLOW_VAR_* and other variables for every spec, plus Slack when a webhook URL is given."""
    settings: dict[str, str] = {}
    for spec in specs:
        settings.update({conn_env_name(cid): conn for cid, conn in spec.connections(demo_env).items()})
        settings.update({f"AIRFLOW_VAR_{key.upper()}": value for key, value in spec.variables.items()})
        if spec.environment:
            settings.update(spec.environment(demo_env))
    webhook = os.environ.get("SLACK_WEBHOOK_URL")
    if webhook:
        settings[conn_env_name("slack_alerts")] = json.dumps({"conn_type": "slackwebhook", "password": webhook})
    return settings


def local_include(home: Path, source: Path) -> Path:
    """``<home>/include``: ``source`` (the project's include/ or the one the demo specs chose) linked, so edits
    show at once, except a Flywheel config that polls Glue every few seconds instead of every minute (the
    stand-in's job runs take seconds)."""
    target = home / "include"
    (target / "config").mkdir(parents=True, exist_ok=True)
    links = [(entry, target / entry.name) for entry in source.iterdir() if entry.name != "config"]
    links += [(entry, target / "config" / entry.name) for entry in (source / "config").iterdir()
              if entry.name != "flywheel.yaml"]
    for real, link in links:
        if not link.is_symlink():
            link.symlink_to(real)
    flywheel = yaml.safe_load((source / "config" / "flywheel.yaml").read_text())
    flywheel["glue_wait"]["poll_seconds"] = LOCAL_GLUE_POLL_SECONDS
    (target / "config" / "flywheel.yaml").write_text(
        "# Written by make airflow from include/config/flywheel.yaml (Glue polled every few seconds).\n"
        + yaml.safe_dump(flywheel, sort_keys=False))
    return target


@dataclass
class ServedAirflow:
    """A running ``make airflow``: its components, the demo stand-ins, the login and the shell's env file."""

    airflow: LocalAirflow
    specs: list[DemoSpec]
    demo_env: DemoEnv
    metadata: Database
    env_file: Path

    @property
    def login(self) -> tuple[str, str]:
        """(user, password) of the UI and the REST API, as the api-server generated it."""
        passwords = Path(self.airflow.env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
        return DEMO_USER, json.loads(passwords.read_text())[DEMO_USER]


def write_env_file(path: Path, settings: Mapping[str, str]) -> None:
    """``export`` lines a shell sources to get this Airflow's ``airflow`` and the runbook's REST variables
    (``make shell``). Only the owner may read it: it holds the local login."""
    venv_bin = AIRFLOW_CLI.parent
    lines = ["# Written by make airflow, removed when it stops: `source` it (make shell does) for the airflow CLI",
             "# of the local Airflow and AIRFLOW_URL / AIRFLOW_USER / AIRFLOW_PASSWORD of its REST API.",
             f'export PATH={shlex.quote(str(venv_bin))}:"$PATH"']
    lines += [f"export {key}={shlex.quote(value)}" for key, value in sorted(settings.items())]
    path.touch(mode=0o600)
    path.chmod(0o600)  # a file left by a killed earlier run keeps its old mode otherwise
    path.write_text("\n".join(lines) + "\n")


def rest_settings(api_port: int, login: tuple[str, str]) -> dict[str, str]:
    """The variables the runbook's REST recipes read."""
    user, password = login
    return {"AIRFLOW_URL": f"http://127.0.0.1:{api_port}", "AIRFLOW_USER": user, "AIRFLOW_PASSWORD": password}


@contextmanager
def served_airflow(home: Path, api_port: int, *, db_prefix: str = LOCAL_DB_PREFIX,
                   say: Callable[[str], None] = print, timeout: float = 300) -> Iterator[ServedAirflow]:
    """``make airflow``: seed the demo data, migrate a fresh metadata DB ``<db_prefix>_airflow`` in the
    local PostgreSQL, import the pools, start the components and wait until they are healthy. Everything
    stops (and the metadata DB is dropped) when the block ends."""
    specs = discover_demos()
    home.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        aws = stack.enter_context(moto_server())
        stack.enter_context(aws.paced_glue_job_runs(GLUE_SECONDS_PER_STATE))
        demo_env = DemoEnv(aws=aws, work_dir=home / "demo", db_prefix=db_prefix)
        demo_env.work_dir.mkdir(exist_ok=True)
        metadata = create_database("postgres", name=f"{db_prefix}_airflow")
        stack.callback(drop_database, metadata)
        stand_ins = stand_in_settings(specs, demo_env)
        include = Path(stand_ins.get(INCLUDE_DIR_ENV) or PROJECT_ROOT / "include")
        shell_settings = {
            **airflow_environment(home, metadata.url),
            **stand_ins,
            INCLUDE_DIR_ENV: str(local_include(home, include)),
            # Runs happen when someone triggers them (UI, CLI, REST, backfill): no nightly runs against the
            # demo stand-ins. DAGs start paused, as in any new deployment.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        }
        env = server_environment(home, metadata.url, api_port, extra={
            **shell_settings,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{DEMO_USER}:admin",
        })
        airflow = LocalAirflow(home=home, env=env, api_port=api_port, components=SERVER_COMPONENTS)
        say(f"metadata DB: PostgreSQL database {metadata.name} (airflow db migrate, pools import)")
        airflow.prepare(Path(shell_settings[INCLUDE_DIR_ENV]) / "config" / "pools.json")
        for spec in specs:
            say(f"{spec.dag_id}: seeding demo data")
            spec.seed(demo_env)
        env_file = home / ENV_FILE_NAME
        say(f"starting {', '.join(SERVER_COMPONENTS)} (logs: {home / 'logs'})")
        stack.callback(airflow.stop)
        airflow.start()
        airflow.wait_until_healthy(timeout)
        served = ServedAirflow(airflow, specs, demo_env, metadata, env_file)
        # Written once the api-server has generated the login; gone when the components stop, so `make shell`
        # never opens on an Airflow whose metadata DB was dropped.
        stack.callback(env_file.unlink, missing_ok=True)
        write_env_file(env_file, {**shell_settings, **rest_settings(api_port, served.login)})
        yield served

