-- force_unlock: take over a stale run lock, only if it is still held by the run that was reported stale.
UPDATE partition_run_lock
SET dag_id = %(dag_id)s, run_id = %(run_id)s, acquired_at = CURRENT_TIMESTAMP
WHERE partition_name = %(partition)s AND dag_id = %(old_dag_id)s AND run_id = %(old_run_id)s
