"""What is deployed (dags/, plugins/) never imports what is not (devtools/, tests/): the image and a
deployment carry dags/, plugins/ and include/ only, so such an import would fail in production."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = ("dags", "plugins")
NOT_DEPLOYED = {"devtools", "tests"}


def imported_packages(source: str) -> set[str]:
    """Top-level package of every absolute import in ``source`` (relative imports stay in their package)."""
    packages: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            packages.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            packages.add(node.module.split(".")[0])
    return packages


def deployed_modules() -> list[Path]:
    return sorted(path for folder in DEPLOYED for path in (ROOT / folder).rglob("*.py"))


def test_deployed_code_exists():
    assert any(path.parts[-3:-1] == ("plugins", "pipelines") for path in deployed_modules())


@pytest.mark.parametrize("path", deployed_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_deployed_module_imports_nothing_undeployed(path: Path):
    assert imported_packages(path.read_text(encoding="utf-8")) & NOT_DEPLOYED == set()


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import devtools.localdb\n", {"devtools"}),
        ("from tests.support import services\n", {"tests"}),
        ("def f():\n    from devtools.demo import DemoSpec\n", {"devtools"}),
        ("from . import tests\nimport pipelines.common\n", set()),
    ],
)
def test_import_scan_sees_every_form(source: str, found: set[str]):
    assert imported_packages(source) & NOT_DEPLOYED == found
