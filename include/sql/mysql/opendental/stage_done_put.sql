INSERT INTO `etl_stage_done` (run_id, table_name, stage, table_run, finished_at)
VALUES (%(run_id)s, %(table)s, %(stage)s, %(table_run)s, UTC_TIMESTAMP())
ON DUPLICATE KEY UPDATE table_run = VALUES(table_run), finished_at = VALUES(finished_at)
