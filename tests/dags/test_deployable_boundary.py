"""What is deployed (dags/, plugins/) never imports what is not (devtools/, tests/): the image and a
deployment carry dags/, plugins/ and include/ only, so such an import would fail in production.

And what is deployed follows one family template (README "Conventions for a family"): every family has
``tasks.py``, ``config.py`` with ``load_settings()``, ``errors.py``, ``cli.py`` beside a ``__main__.py``, its
settings in ``include/config/<family>.yaml``, its SQL in ``include/sql/<engine>/<family>/``; each asset is
constructed once."""

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


# --- the family template (README "Conventions for a family"): the same files, in the same places ---------

PIPELINES = ROOT / "plugins" / "pipelines"
INCLUDE = ROOT / "include"
FAMILIES = ("appxml", "xml_mapping", "opendental", "flywheel", "fileload_insight")
SQL_ENGINES = {"mssql", "postgres", "mysql", "athena"}
#: Settings files that belong to no one family.
CROSS_FAMILY_CONFIG = {"deadlines.yaml", "pools.json"}


def family_modules(family: str) -> set[str]:
    return {path.name for path in (PIPELINES / family).glob("*.py")}


def test_every_family_is_held_to_the_template():
    assert {path.name for path in PIPELINES.iterdir() if (path / "__init__.py").is_file()} - {"common"} == set(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_has_the_template_modules(family: str):
    modules = family_modules(family)
    assert {"tasks.py", "config.py", "errors.py"} - modules == set()
    if "__main__.py" in modules:
        assert "cli.py" in modules


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_reads_its_settings_with_load_settings(family: str):
    tree = ast.parse((PIPELINES / family / "config.py").read_text(encoding="utf-8"))
    assert "load_settings" in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize("family", FAMILIES)
def test_a_family_has_its_settings_file(family: str):
    assert (INCLUDE / "config" / f"{family}.yaml").is_file()


def test_sql_is_engine_first_then_family():
    folders = {path.name for path in (INCLUDE / "sql").iterdir()}
    assert folders <= SQL_ENGINES, f"not an engine: {sorted(folders - SQL_ENGINES)}"
    for engine in folders:
        inside = {path.name for path in (INCLUDE / "sql" / engine).iterdir()}
        assert inside <= set(FAMILIES), f"include/sql/{engine}: not a family: {sorted(inside - set(FAMILIES))}"


def test_settings_files_are_named_after_their_family():
    strays = {path.name for path in (INCLUDE / "config").iterdir()
              if path.name not in CROSS_FAMILY_CONFIG and path.stem not in FAMILIES}
    assert strays == set()
    assert {path.stem for path in (INCLUDE / "config").glob("*.yaml")} - {"deadlines"} <= set(FAMILIES)


def asset_names(source: str) -> list[str]:
    """The name of every ``Asset(...)`` constructed in ``source`` (its first argument or ``name=``)."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)) != "Asset":
            continue
        name = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
        names.append(name.value if isinstance(name, ast.Constant) else ast.unparse(name) if name else "?")
    return names


def test_each_asset_is_constructed_in_one_place():
    places: dict[str, list[str]] = {}
    for path in deployed_modules():
        for name in asset_names(path.read_text(encoding="utf-8")):
            places.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert places, "no Asset found: the scan is broken"
    assert {name: where for name, where in places.items() if len(where) > 1} == {}


@pytest.mark.parametrize(("source", "names"), [
    ('A = Asset("a")\n', ["a"]),
    ('from airflow import sdk\nB = sdk.Asset(name="b", uri="x://b")\n', ["b"]),
    ('schedule = [A, Asset(uri="x://c", name="c")]\nAssetAlias("d")\n', ["c"]),
])
def test_the_asset_scan_sees_every_form(source: str, names: list[str]):
    assert asset_names(source) == names
