INSERT INTO `etl_business_checks` (run_id, table_name, check_name, day, source_total, public_total, ok, checked_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, UTC_TIMESTAMP())
