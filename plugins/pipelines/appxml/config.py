"""The appxml settings file, ``include/config/appxml.yaml``: table names and per-run parallelism.

Read at DAG parse time (for ``max_active_tis_per_dagrun``) and by each task, so it touches only the small
local file: no database, no network, no heavy import.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from pipelines.common.config import StrictModel, load_config
from pipelines.common.identifiers import require_identifier, require_table_name

CONFIG_FILE = "appxml.yaml"
#: The Airflow connection of the source and staging tables (SQL Server in production).
CONN_ID = "mssql_appxml"
DEFAULT_SOURCE_TABLE = "dbo.app_xml"
DEFAULT_SOURCE_COLUMN = "app_XML"
DEFAULT_STAGING_TABLE = "dbo.app_xml_staging"


class AppxmlSettings(StrictModel):
    source_table: str = DEFAULT_SOURCE_TABLE
    source_column: str = DEFAULT_SOURCE_COLUMN
    staging_table: str = DEFAULT_STAGING_TABLE
    max_parallel_partitions: int = Field(default=8, ge=1, le=64)

    @field_validator("source_table", "staging_table")
    @classmethod
    def _table_name(cls, name: str) -> str:
        return require_table_name(name)

    @field_validator("source_column")
    @classmethod
    def _column_name(cls, name: str) -> str:
        return require_identifier(name, "column")

    @model_validator(mode="after")
    def _distinct_tables(self) -> AppxmlSettings:
        if self.source_table.lower() == self.staging_table.lower():
            raise ValueError(f"source_table and staging_table are the same: {self.source_table}")
        return self


def load_settings() -> AppxmlSettings:
    """The deployment's settings (read on every call: ``PIPELINES_INCLUDE_DIR`` may point elsewhere)."""
    return load_config(AppxmlSettings, CONFIG_FILE)


def max_parallel_partitions() -> int:
    """Partitions of one run staging at the same time (``max_active_tis_per_dagrun``), from appxml.yaml.

    Fixed when the DAG is parsed: a run's Params cannot change it."""
    return load_settings().max_parallel_partitions
