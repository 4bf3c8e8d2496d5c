-- Columns that carry a unique index of their own (test data must not repeat their values).
SELECT COLUMN_NAME
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %(table)s AND NON_UNIQUE = 0
GROUP BY INDEX_NAME, COLUMN_NAME
HAVING COUNT(*) = 1
