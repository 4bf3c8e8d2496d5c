-- etl_run_validation tables created before deleted-row counts were recorded get the three columns
-- (information_schema check first: MySQL has no ADD COLUMN IF NOT EXISTS).
ALTER TABLE `etl_run_validation`
  ADD COLUMN `deleted_replica` bigint(20) NOT NULL DEFAULT 0 AFTER `changed_raw`,
  ADD COLUMN `deleted_raw` bigint(20) NOT NULL DEFAULT 0 AFTER `deleted_replica`,
  ADD COLUMN `deleted_public` bigint(20) NOT NULL DEFAULT 0 AFTER `deleted_raw`
