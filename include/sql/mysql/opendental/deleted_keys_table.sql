-- Keys of rows deleted at the source that a later stage (load: raw, transform: public) has not removed yet.
CREATE TABLE IF NOT EXISTS `etl_deleted_keys` (
  `table_name` varchar(64) NOT NULL,
  `key_value` bigint(20) NOT NULL,
  `found_at` datetime NOT NULL,
  PRIMARY KEY (`table_name`, `key_value`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
