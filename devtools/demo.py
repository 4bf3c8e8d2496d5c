"""The contract between ``make demo`` and each pipeline family.

A family takes part in the demo by giving ``devtools/<family>/demo.py`` (next to its generators and seeds,
outside the deployable ``plugins/pipelines``) a module-level ``DEMOS: list[DemoSpec]``. The demo runner
(scripts/demo.py) finds those modules, seeds their data into local stand-ins (MariaDB, PostgreSQL, an
in-process moto server), defines their connections through ``AIRFLOW_CONN_*`` variables, runs each DAG once
with ``airflow dags test`` and prints a summary with the counts each spec reports.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.localdb import Database, MotoEndpoint, create_database

DEMO_DB_PREFIX = "pipelines_demo"


@dataclass
class DemoEnv:
    """Local stand-ins for production systems, handed to each spec's seed / connections / counts."""

    aws: MotoEndpoint
    work_dir: Path
    _databases: dict[tuple[str, str], Database] = field(default_factory=dict)

    def database(self, engine: str, name: str) -> Database:
        """The demo database ``pipelines_demo_<name>`` on the local ``postgres`` or ``mysql`` server.

        Created empty on its first use in a demo run, so every run starts from the same seed."""
        key = (engine, name)
        if key not in self._databases:
            self._databases[key] = create_database(engine, name=f"{DEMO_DB_PREFIX}_{name}")
        return self._databases[key]

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


def discover_demos() -> list[DemoSpec]:
    """Every ``DEMOS`` list found in ``devtools.<family>.demo`` modules, in run order."""
    import devtools

    specs: list[DemoSpec] = []
    for family in pkgutil.iter_modules(devtools.__path__):
        if not family.ispkg:
            continue
        try:
            module = importlib.import_module(f"devtools.{family.name}.demo")
        except ModuleNotFoundError as exc:
            if exc.name == f"devtools.{family.name}.demo":
                continue
            raise
        specs.extend(getattr(module, "DEMOS", []))
    return sorted(specs, key=lambda spec: (spec.order, spec.dag_id))
