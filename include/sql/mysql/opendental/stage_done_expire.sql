DELETE FROM `etl_stage_done` WHERE `finished_at` < UTC_TIMESTAMP() - INTERVAL 30 DAY
