"""DAG folder checks shared by the real integrity test and the tests that prove it catches breakage."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

MAX_IMPORT_SECONDS = 1.0


class NetworkAtParseTime(RuntimeError):
    """Raised instead of opening a socket while DAG files are imported."""


def known_pools(pools_file: Path) -> set[str]:
    return {"default_pool", *json.loads(pools_file.read_text())}


@contextmanager
def no_network(attempts: list[str]) -> Iterator[None]:
    """Make every outgoing connection (and DNS lookup) raise, recording what was tried."""

    def refuse(what: str):
        def blocked(*args: Any, **kwargs: Any) -> Any:
            target = args[1] if what == "connect" and len(args) > 1 else (args[0] if args else "?")
            attempts.append(f"{what} {target}")
            raise NetworkAtParseTime(f"network access at DAG parse time: {what} {target}")

        return blocked

    with (
        mock.patch.object(socket.socket, "connect", refuse("connect")),
        mock.patch.object(socket.socket, "connect_ex", refuse("connect")),
        mock.patch.object(socket, "getaddrinfo", refuse("getaddrinfo")),
    ):
        yield


@dataclass
class IntegrityReport:
    dags: dict[str, Any]
    import_errors: dict[str, str]
    warnings: list[str]
    network_attempts: list[str]
    slow_files: dict[str, float]
    convention_problems: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return [
            *(f"import error in {path}: {error.strip().splitlines()[-1]}"
              for path, error in self.import_errors.items()),
            *self.warnings,
            *(f"network at parse time: {attempt}" for attempt in self.network_attempts),
            *(f"{path} took {seconds:.2f}s to import" for path, seconds in self.slow_files.items()),
            *self.convention_problems,
        ]


def convention_problems(dag: Any) -> list[str]:
    problems = []
    if not dag.tags:
        problems.append(f"{dag.dag_id}: no tags")
    if not (dag.doc_md or "").strip():
        problems.append(f"{dag.dag_id}: no doc_md")
    if not dag.on_failure_callback:
        problems.append(f"{dag.dag_id}: no DAG-level on_failure_callback")
    for task in dag.tasks:
        if not task.owner or task.owner == "airflow":
            problems.append(f"{dag.dag_id}.{task.task_id}: no owner")
        if task.retries < 1:
            problems.append(f"{dag.dag_id}.{task.task_id}: retries < 1")
        if not task.on_failure_callback:
            problems.append(f"{dag.dag_id}.{task.task_id}: no on_failure_callback")
    return problems


def check_dag_folder(folder: Path, pools: set[str]) -> IntegrityReport:
    """Import every DAG file in ``folder`` with the network blocked, and report what is wrong.

    Import time is measured on a second pass: the first one pays for importing Airflow and the
    providers once, which the DAG processor also does once (it pre-imports before parsing files).
    """
    from airflow.dag_processing.dagbag import DagBag

    attempts: list[str] = []
    with no_network(attempts):
        DagBag(dag_folder=str(folder), known_pools=pools)
        bag = DagBag(dag_folder=str(folder), known_pools=pools)
    slow = {
        stat.file: stat.duration.total_seconds()
        for stat in bag.dagbag_stats
        if stat.duration.total_seconds() > MAX_IMPORT_SECONDS
    }
    return IntegrityReport(
        dags=dict(bag.dags),
        import_errors=dict(bag.import_errors),
        warnings=sorted(warning.message for warning in bag.dag_warnings),
        network_attempts=sorted(set(attempts)),
        slow_files=slow,
        convention_problems=[problem for dag in bag.dags.values() for problem in convention_problems(dag)],
    )
