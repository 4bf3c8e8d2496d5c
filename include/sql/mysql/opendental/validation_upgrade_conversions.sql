-- etl_run_validation tables created before conversion counts were recorded get the column, at the end
-- (information_schema check first: MySQL has no ADD COLUMN IF NOT EXISTS).
ALTER TABLE `etl_run_validation` ADD COLUMN `conversions` text DEFAULT NULL
