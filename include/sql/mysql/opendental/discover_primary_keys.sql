-- Primary key columns in key order (or of one table when %(table)s is not NULL).
SELECT TABLE_NAME, COLUMN_NAME
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME = 'PRIMARY'
  AND (%(table)s IS NULL OR TABLE_NAME = %(table)s)
ORDER BY TABLE_NAME, SEQ_IN_INDEX
