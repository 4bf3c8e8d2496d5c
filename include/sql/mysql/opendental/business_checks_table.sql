-- One row per business check, day and DAG run: the day's total at the source and in public, and the
-- verdict (aggregates only, never rows). Query by check and day to see a total drift over the nights.
CREATE TABLE IF NOT EXISTS `etl_business_checks` (
  `run_id` varchar(250) NOT NULL,
  `table_name` varchar(64) NOT NULL,
  `check_name` varchar(128) NOT NULL,
  `day` date NOT NULL,
  `source_total` decimal(38,6) DEFAULT NULL,
  `public_total` decimal(38,6) DEFAULT NULL,
  `ok` tinyint(1) NOT NULL,
  `checked_at` datetime NOT NULL,
  PRIMARY KEY (`run_id`, `table_name`, `check_name`, `day`),
  KEY `check_day` (`check_name`, `day`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
