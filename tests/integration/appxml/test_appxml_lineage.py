"""appxml_staging's OpenLineage events through a real HTTP transport: every partition's task reads
``dbo.app_xml`` and writes ``dbo.app_xml_staging`` with its row count; no document content travels."""

from __future__ import annotations

import pytest

from devtools.localdb import PG_HOST, PG_PORT
from pipelines.appxml import ddl
from pipelines.common.database.tables import TableName
from tests.support.appxml_checks import staging_refuses
from tests.support.openlineage import xml_snippets

pytestmark = pytest.mark.integration
STAGING = TableName("dbo", "app_xml_staging")
RUN = {"workers": 2, "batch": 10, "limit": 0, "remainders": None, "drop_index": False, "recreate_index": False}


def documents(appxml_db) -> list[str]:
    return [d.body if isinstance(d.body, str) else d.body.decode("utf-8", "replace") for d in appxml_db.docs if d.body]


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

    openlineage_events.assert_carries_none_of([xml_snippets(documents(appxml_db))])


def test_a_failed_partition_names_its_datasets_and_its_error_by_ids_only(appxml_db, staging_dag, dag_runner,
                                                                         openlineage_events):
    ddl.ensure_staging_table(appxml_db.engine, STAGING)
    refused = sorted(doc.app_id for doc in appxml_db.docs if doc.has_custdata and doc.app_id % 2 == 1)[0]
    with staging_refuses(appxml_db.engine, refused):
        result = dag_runner(staging_dag, RUN)
    assert result.state == "failed"

    (failed,) = openlineage_events.of_task("appxml_staging", "stage_partition", "FAIL")
    db = appxml_db.db.name
    assert {d["name"] for d in failed["inputs"]} == {f"{db}.dbo.app_xml"}
    assert {d["name"] for d in failed["outputs"]} == {f"{db}.dbo.app_xml_staging"}
    error = failed["run"]["facets"]["errorMessage"]
    assert "app_id" in error["message"]
    openlineage_events.assert_carries_none_of([xml_snippets(documents(appxml_db))])
