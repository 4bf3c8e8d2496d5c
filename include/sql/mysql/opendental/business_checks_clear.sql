-- A retried validation replaces its table's results of the run, so no day of an earlier try is left over.
DELETE FROM `etl_business_checks` WHERE run_id = %s AND table_name = %s
