SELECT strategy, watermark_column, last_value, last_key, rows_copied, table_signature, updated_at
FROM `etl_table_state`
WHERE table_name = %(table)s
