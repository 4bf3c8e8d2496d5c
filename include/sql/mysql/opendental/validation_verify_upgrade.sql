-- etl_run_validation tables created before content verification get its counts, appended at the end.
ALTER TABLE `etl_run_validation`
  ADD COLUMN `verified_rows` bigint(20) NOT NULL DEFAULT 0,
  ADD COLUMN `repaired_replica` bigint(20) NOT NULL DEFAULT 0,
  ADD COLUMN `repaired_raw` bigint(20) NOT NULL DEFAULT 0,
  ADD COLUMN `repaired_public` bigint(20) NOT NULL DEFAULT 0
