-- Only the holder releases; a run that never got the lock (or lost it to force_unlock) changes nothing.
DELETE FROM dbo.partition_run_lock
WHERE partition_name = %(partition)s AND dag_id = %(dag_id)s AND run_id = %(run_id)s
