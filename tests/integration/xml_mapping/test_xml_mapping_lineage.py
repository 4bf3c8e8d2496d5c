"""appxml_mapping's OpenLineage events through a real HTTP transport: each partition reads the staging
table and writes the contracts' target tables with its rows per table; no XML or mapped value travels."""

from __future__ import annotations

import pytest

from devtools.localdb import PG_HOST, PG_PORT
from tests.support.openlineage import xml_snippets

pytestmark = pytest.mark.integration
RUN = {"workers": 2, "batch": 9, "limit": 0, "remainders": None, "retry_failed": False}


def test_partitions_name_staging_and_every_target_table_with_rows(mapping_db, mapping_dag, dag_runner,
                                                                  openlineage_events):
    events = openlineage_events.of_run(dag_runner, mapping_dag, RUN, "map_partition", 2)
    namespace, db = f"postgres://{PG_HOST}:{PG_PORT}", mapping_db.db.name
    rows: dict[str, int] = {}
    for event in events:
        assert openlineage_events.names(event["inputs"]) == {(namespace, f"{db}.dbo.app_xml_staging")}
        assert openlineage_events.names(event["outputs"]) == {
            (namespace, f"{db}.migration.{name}") for name in mapping_db.target.tables}
        for name, count in openlineage_events.row_counts(event["outputs"]).items():
            rows[name] = rows.get(name, 0) + count
        assert all(out["facets"]["schema"]["fields"] for out in event["outputs"])
    counts = mapping_db.counts()
    assert {name.rsplit(".", 1)[-1]: n for name, n in rows.items()} == {
        name: n for name, n in counts.items() if name != "processing_log"}

    openlineage_events.assert_carries_none_of(
        row for name in mapping_db.target.tables if name != "processing_log"
        for row in mapping_db.rows(f"SELECT * FROM migration.{name}"))
    staged = [str(xml) for (xml,) in mapping_db.rows('SELECT "app_XML" FROM dbo.app_xml_staging')]
    openlineage_events.assert_carries_none_of([xml_snippets(staged)])  # no XML
