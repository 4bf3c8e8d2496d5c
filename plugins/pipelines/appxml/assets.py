"""Assets the appxml DAG produces; other families' DAGs schedule on them."""

from __future__ import annotations

from airflow.sdk import Asset

#: The staged documents (dbo.app_xml_staging); updated by appxml_staging's summary, it schedules appxml_mapping.
STAGED_DOCUMENTS = Asset("appxml_staging")
