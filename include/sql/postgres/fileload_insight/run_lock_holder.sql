SELECT dag_id, run_id, CAST(EXTRACT(EPOCH FROM (CURRENT_TIMESTAMP - acquired_at)) AS INTEGER) AS age_seconds
FROM partition_run_lock
WHERE partition_name = %(partition)s
