"""The mapping's lineage datasets: the staging table it reads, the contracts' target tables it writes."""

from __future__ import annotations

from pipelines.common import lineage
from pipelines.xml_mapping.config import MappingSettings
from pipelines.xml_mapping.target_tables import TargetSchema


def staging_datasets(settings: MappingSettings) -> list:
    return [lineage.table(settings.conn_id, settings.source_table)]


def target_datasets(conn_id: str, target: TargetSchema, rows_per_table: dict[str, int] | None = None) -> list:
    """The contract's target tables (and the processing log) as lineage outputs, with this partition's rows."""
    data = [lineage.sa_table(conn_id, table, None if rows_per_table is None else rows_per_table.get(table.name, 0))
            for table in target.data_tables()]
    return [*data, lineage.sa_table(conn_id, target.processing_log)]
