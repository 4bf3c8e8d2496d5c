-- The stages a table finished in a run that has not finished that table yet: a retried or cleared table's
-- task resumes at the stage that failed instead of copying again what it already copied. A table's rows go
-- when its run validates it; rows of runs nobody resumed go after 30 days (stage_done_expire.sql).
CREATE TABLE IF NOT EXISTS `etl_stage_done` (
  `run_id` varchar(250) NOT NULL,
  `table_name` varchar(64) NOT NULL,
  `stage` varchar(16) NOT NULL,
  `table_run` longtext NOT NULL,
  `finished_at` datetime NOT NULL,
  PRIMARY KEY (`run_id`, `table_name`, `stage`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
