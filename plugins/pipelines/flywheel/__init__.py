"""Flywheel clean-room pipelines: Glue jobs and Athena statements chained by three DAGs
(flywheel_bucketed, flywheel_partitioned, flywheel_reports)."""
