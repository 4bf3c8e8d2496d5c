"""The mapping family stands on ``pipelines.common`` for everything a partition job needs (engines, reader
connection, table names, bulk writes, the overlap runner, the CLI skeleton); of appxml it imports only the
staging table's shape (``pipelines.appxml.tables``: the table it reads), a real data dependency. Imports inside
functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

XML_MAPPING = Path(__file__).resolve().parents[3] / "plugins" / "pipelines" / "xml_mapping"
#: The one appxml module the mapping may import: the staging table it reads.
STAGING_SHAPE = "pipelines.appxml.tables"


def appxml_imports(source: str) -> set[str]:
    """The ``pipelines.appxml`` modules ``source`` imports, anywhere in it (``from pipelines.appxml import
    tables`` counts as ``pipelines.appxml.tables``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = ([f"{node.module}.{alias.name}" for alias in node.names] if node.module == "pipelines.appxml"
                     else [node.module])
        else:
            continue
        found.update(name for name in names if name == "pipelines.appxml" or name.startswith("pipelines.appxml."))
    return found


def test_the_mapping_imports_appxml_only_for_the_staging_table_shape():
    imports = {path.name: appxml_imports(path.read_text(encoding="utf-8")) for path in XML_MAPPING.glob("*.py")}
    assert {name: found for name, found in imports.items() if found - {STAGING_SHAPE}} == {}
    assert any(imports.values())  # the scan sees the one import that is allowed


@pytest.mark.parametrize(("source", "found"), [
    ("from pipelines.appxml.tables import staging_table\n", {"pipelines.appxml.tables"}),
    ("from pipelines.appxml import tables as staging_tables\n", {"pipelines.appxml.tables"}),
    ("import pipelines.appxml.engines\n", {"pipelines.appxml.engines"}),
    ("def f():\n    from pipelines.appxml.config import CONN_ID\n", {"pipelines.appxml.config"}),
    ("from pipelines.common.database.engines import engine_from_url\n", set()),
])
def test_the_scan_sees_every_form_of_import(source: str, found: set[str]):
    assert appxml_imports(source) == found
