-- Clears the flag only for its holder (this run, or the stale holder named when force_unlock clears it).
DELETE FROM insight_lock_flag
WHERE partition_name = %(partition)s AND dag_id = %(dag_id)s AND holder = %(run_id)s
