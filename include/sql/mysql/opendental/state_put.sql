INSERT INTO `etl_table_state`
  (table_name, strategy, watermark_column, last_value, last_key, rows_copied, table_signature, updated_at)
VALUES (%(table)s, %(strategy)s, %(watermark_column)s, %(last_value)s, %(last_key)s, %(rows)s, %(signature)s,
        UTC_TIMESTAMP())
ON DUPLICATE KEY UPDATE strategy = VALUES(strategy), watermark_column = VALUES(watermark_column),
  last_value = VALUES(last_value), last_key = VALUES(last_key), rows_copied = VALUES(rows_copied),
  table_signature = VALUES(table_signature), updated_at = VALUES(updated_at)
