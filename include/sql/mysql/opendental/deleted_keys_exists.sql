-- Whether a replica still has the pending-deletes table of older releases (integer keys only).
SELECT COUNT(*) FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'etl_deleted_keys'
