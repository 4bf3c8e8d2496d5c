SELECT `stage`, `table_run` FROM `etl_stage_done` WHERE `run_id` = %(run_id)s AND `table_name` = %(table)s
