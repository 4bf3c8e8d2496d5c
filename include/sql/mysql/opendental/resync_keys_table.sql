-- Keys whose rows content verification repaired or deleted in the replica, waiting until load (raw) and
-- transform (public) have brought them in line too. key_text: the key's values as a JSON array of text.
CREATE TABLE IF NOT EXISTS `etl_resync_keys` (
  `table_name` varchar(64) NOT NULL,
  `key_text` varchar(600) NOT NULL,
  `found_at` datetime NOT NULL,
  PRIMARY KEY (`table_name`, `key_text`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
