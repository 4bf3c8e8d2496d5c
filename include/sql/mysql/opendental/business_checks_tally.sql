-- Per table, the run's checks that passed and failed (a check fails when one of its days does).
SELECT table_name, SUM(passed), COUNT(*) - SUM(passed)
FROM (SELECT table_name, check_name, MIN(ok) AS passed FROM `etl_business_checks` WHERE run_id = %s
      GROUP BY table_name, check_name) AS per_check
GROUP BY table_name
