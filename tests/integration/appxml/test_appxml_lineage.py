"""appxml_staging's OpenLineage events through a real HTTP transport: every partition's task reads
``dbo.app_xml`` and writes ``dbo.app_xml_staging`` with its row count; no document content travels."""

from __future__ import annotations

import pytest

from devtools.localdb import PG_HOST, PG_PORT

pytestmark = pytest.mark.integration
RUN = {"workers": 2, "batch": 10, "limit": 0, "remainders": None, "drop_index": False, "recreate_index": False}


def test_stage_events_name_source_and_staging_with_row_counts(appxml_db, staging_dag, dag_runner,
                                                              openlineage_events):
    events = openlineage_events.of_run(dag_runner, staging_dag, RUN, "stage_partition", 2)
    namespace, db = f"postgres://{PG_HOST}:{PG_PORT}", appxml_db.db.name
    for event in events:
        assert openlineage_events.names(event["inputs"]) == {(namespace, f"{db}.dbo.app_xml")}
        assert openlineage_events.names(event["outputs"]) == {(namespace, f"{db}.dbo.app_xml_staging")}
        fields = [f["name"] for f in event["outputs"][0]["facets"]["schema"]["fields"]]
        assert "app_id" in fields
    staged = sum(openlineage_events.row_counts(e["outputs"])[f"{appxml_db.db.name}.dbo.app_xml_staging"]
                 for e in events)
    assert staged == len(appxml_db.expected())

    text = openlineage_events.text()
    bodies = [d.body if isinstance(d.body, str) else d.body.decode("utf-8", "replace") for d in appxml_db.docs]
    snippets = [body[len(body) // 2:len(body) // 2 + 40] for body in bodies if len(body) >= 100]
    assert snippets
    assert not [s for s in snippets if s in text]
    assert "CustData" not in text
