-- Its keys join the pending keys in the form etl_resync_keys holds them (a JSON array of the key's text), so a
-- stage that had not removed them yet still does; the caller then drops the old table.
INSERT IGNORE INTO `etl_resync_keys` (table_name, key_text, found_at)
SELECT table_name, JSON_ARRAY(CAST(key_value AS CHAR)), found_at FROM `etl_deleted_keys`
