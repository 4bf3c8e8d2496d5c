"""Assets the Flywheel DAGs produce and consume."""

from __future__ import annotations

from airflow.sdk import Asset

#: The part_* tables of the partitioned pipeline, repaired and queryable; updated by flywheel_partitioned,
#: it schedules flywheel_reports.
PART_TABLES = Asset(name="flywheel_part_tables", uri="flywheel://glue-catalog/part_tables", group="flywheel")
