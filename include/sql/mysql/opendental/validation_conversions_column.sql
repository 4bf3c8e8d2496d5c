SELECT COUNT(*) FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'etl_run_validation' AND COLUMN_NAME = 'conversions'
