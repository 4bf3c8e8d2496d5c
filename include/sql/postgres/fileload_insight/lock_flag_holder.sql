SELECT dag_id, holder, CAST(EXTRACT(EPOCH FROM (CURRENT_TIMESTAMP - set_at)) AS INTEGER) AS age_seconds
FROM insight_lock_flag
WHERE partition_name = %(partition)s
