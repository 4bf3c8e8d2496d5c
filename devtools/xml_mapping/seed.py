"""Stage documents the way ``appxml_staging`` does (reduced to ``Provenir/Request/CustData``) into a staging
table, for tests, the demo and the benchmark."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from pipelines.appxml import ddl
from pipelines.appxml.reduce import reduce_document
from pipelines.appxml.tables import STAGING_XML_COLUMN, staging_table
from pipelines.common.database.bulk import bulk_insert
from pipelines.common.database.tables import TableName

STAGING = "dbo.app_xml_staging"
_CHUNK = 500


def stage_documents(engine: sa.Engine, documents: Iterable[tuple[int, bytes | str]], staging: str = STAGING,
                    reduce: bool = True) -> int:
    """Create the staging table when missing and insert ``(app_id, document)`` rows; returns the count.
    ``reduce`` applies the staging family's reduction (a document that does not reduce is staged as is)."""
    name = TableName.parse(staging)
    ddl.ensure_staging_table(engine, name)
    table = staging_table(name, engine.dialect.name)
    count, chunk = 0, []
    for app_id, document in documents:
        text = None
        if reduce:
            text = reduce_document(app_id, document).xml
        if text is None:
            text = document.decode("utf-8-sig", errors="replace") if isinstance(document, bytes) else document
        chunk.append((app_id, text))
        if len(chunk) >= _CHUNK:
            count += _flush(engine, table, chunk)
    return count + _flush(engine, table, chunk)


def _flush(engine: sa.Engine, table: sa.Table, rows: list[tuple[int, str]]) -> int:
    if rows:
        with engine.begin() as conn:
            bulk_insert(conn, table, ("app_id", STAGING_XML_COLUMN), rows)
    count = len(rows)
    rows.clear()
    return count
