"""Airflow DAGs for PUP_fileload and GR_Insight_Process, one per program and data partition
(pup_fileload__<p>, gr_insight__<p>), generated from include/config/partitions.yaml by
pipelines.fileload_insight.factory."""

from pipelines.fileload_insight.factory import build_dags

globals().update(build_dags())
