-- One row per table per DAG run: the row counts compared between stages and the verdict.
CREATE TABLE IF NOT EXISTS `etl_run_validation` (
  `run_id` varchar(250) NOT NULL,
  `table_name` varchar(64) NOT NULL,
  `strategy` varchar(16) NOT NULL,
  `source_rows` bigint(20) DEFAULT NULL,
  `replica_rows` bigint(20) NOT NULL,
  `raw_rows` bigint(20) NOT NULL,
  `public_rows` bigint(20) NOT NULL,
  `window_start` varchar(32) DEFAULT NULL,
  `changed_source` bigint(20) DEFAULT NULL,
  `changed_replica` bigint(20) DEFAULT NULL,
  `changed_raw` bigint(20) DEFAULT NULL,
  `deleted_replica` bigint(20) NOT NULL DEFAULT 0,
  `deleted_raw` bigint(20) NOT NULL DEFAULT 0,
  `deleted_public` bigint(20) NOT NULL DEFAULT 0,
  `ok` tinyint(1) NOT NULL,
  `problem` varchar(500) DEFAULT NULL,
  `checked_at` datetime NOT NULL,
  `verified_rows` bigint(20) NOT NULL DEFAULT 0,
  `repaired_replica` bigint(20) NOT NULL DEFAULT 0,
  `repaired_raw` bigint(20) NOT NULL DEFAULT 0,
  `repaired_public` bigint(20) NOT NULL DEFAULT 0,
  -- cells the load changed by a documented conversion, JSON {"Column": {"nul_removed": n, "zero_date": m}}
  `conversions` text DEFAULT NULL,
  PRIMARY KEY (`run_id`, `table_name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
