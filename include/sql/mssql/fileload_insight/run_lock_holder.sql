SELECT dag_id, run_id, DATEDIFF(SECOND, acquired_at, SYSUTCDATETIME()) AS age_seconds
FROM dbo.partition_run_lock
WHERE partition_name = %(partition)s
