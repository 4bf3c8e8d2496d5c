SELECT dag_id, holder, DATEDIFF(SECOND, set_at, SYSUTCDATETIME()) AS age_seconds
FROM dbo.insight_lock_flag
WHERE partition_name = %(partition)s
