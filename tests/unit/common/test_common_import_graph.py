"""The shared modules under ``pipelines/common`` (its ``database`` package included) import each other without a
circle: each can be read, changed and imported on its own. Imports inside functions count too: they still tie
the modules together."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

COMMON = Path(__file__).resolve().parents[3] / "plugins" / "pipelines" / "common"
PACKAGE = "pipelines.common"


def common_imports(source: str) -> set[str]:
    """The ``pipelines.common`` modules that ``source`` imports, anywhere in it, by name under ``common``
    (``database.engines``); ``from pipelines.common.database import engines`` names both the package and
    the module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names
                                     if is_common_module(f"{node.module}.{alias.name}")]
        else:
            continue
        found.update(name.removeprefix(PACKAGE + ".") for name in names if name.startswith(PACKAGE + "."))
    return found


def is_common_module(dotted: str) -> bool:
    """``pipelines.common.params`` names a module (``pipelines.common.errors.PermanentError`` does not)."""
    if not dotted.startswith(PACKAGE + "."):
        return False
    path = COMMON.joinpath(*dotted.removeprefix(PACKAGE + ".").split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def module_name(path: Path) -> str:
    """``partitions`` for common/partitions.py, ``database.engines`` for common/database/engines.py, ``database``
    for its ``__init__``."""
    parts = path.relative_to(COMMON).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in COMMON.rglob("*.py") if path != COMMON / "__init__.py"}
    return {name: common_imports(path.read_text(encoding="utf-8")) & modules.keys() - {name}
            for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as ``[a, b, ..., a]``, or None."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str] | None:
        if name in path:
            return [*path[path.index(name):], name]
        if name in done:
            return None
        for target in sorted(graph.get(name, ())):
            cycle = visit(target, [*path, name])
            if cycle:
                return cycle
        done.add(name)
        return None

    return next((cycle for name in sorted(graph) if (cycle := visit(name, []))), None)


def test_the_common_modules_import_each_other():
    graph = import_graph()
    assert {"config", "errors", "airflow_failures", "params", "identifiers"} <= graph.keys()
    assert "identifiers" in graph["params"]
    assert {"database.engines", "database.batches"} <= graph.keys()
    assert "partitions" in graph["database.tables"]


def test_the_common_modules_have_no_import_circle():
    assert find_cycle(import_graph()) is None


@pytest.mark.parametrize(("source", "found"), [
    ("from pipelines.common.errors import PermanentError\n", {"errors"}),
    ("import pipelines.common.paths\n", {"paths"}),
    ("from pipelines.common import params\n", {"params"}),
    ("def f():\n    from pipelines.common.airflow_failures import Refused\n", {"airflow_failures"}),
    ("from pipelines.opendental.errors import X\nimport json\n", set()),
    ("from pipelines.common.database.engines import engine_from_url\n", {"database.engines"}),
    ("from pipelines.common.database import bulk\n", {"database", "database.bulk"}),
])
def test_the_scan_sees_every_form_of_import(source: str, found: set[str]):
    assert common_imports(source) == found


def test_a_circle_is_found_and_named():
    graph = {"config": {"errors"}, "errors": {"failures"}, "failures": {"params"}, "params": {"config"},
             "paths": set()}
    assert find_cycle(graph) == ["config", "errors", "failures", "params", "config"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
