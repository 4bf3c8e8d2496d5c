"""Airflow DAGs for PUP_fileload and GR_Insight_Process, one per program and data partition
(pup_fileload__<p>, gr_insight__<p>), generated from include/config/fileload_insight.yaml by
pipelines.fileload_insight.factory."""

from pipelines.fileload_insight.factory import build_dags

# Every DAG by id. Airflow finds them without a module-level name each: it registers every DAG that a
# `with DAG(...)` block (as in the factory) creates while this file is imported.
DAGS = build_dags()
