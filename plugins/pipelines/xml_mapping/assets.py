"""Assets the appxml_mapping DAG produces."""

from __future__ import annotations

from airflow.sdk import Asset

#: The mapped applications (the contracts' target tables and processing_log); updated by appxml_mapping's summary.
MAPPED_APPLICATIONS = Asset("appxml_mapping")
