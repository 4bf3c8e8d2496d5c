-- Per-table ETL state on the replica: survives a reset of the Airflow metadata DB.
CREATE TABLE IF NOT EXISTS `etl_table_state` (
  `table_name` varchar(64) NOT NULL,
  `strategy` varchar(16) NOT NULL,
  `watermark_column` varchar(64) DEFAULT NULL,
  `last_value` varchar(32) DEFAULT NULL,
  `last_key` bigint(20) DEFAULT NULL,
  `rows_copied` bigint(20) NOT NULL DEFAULT 0,
  `table_signature` varchar(64) DEFAULT NULL,
  `updated_at` datetime NOT NULL,
  PRIMARY KEY (`table_name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
