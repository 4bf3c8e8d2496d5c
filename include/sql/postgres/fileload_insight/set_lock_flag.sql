INSERT INTO insight_lock_flag (partition_name, dag_id, holder, set_at)
VALUES (%(partition)s, %(dag_id)s, %(run_id)s, CURRENT_TIMESTAMP)
ON CONFLICT (partition_name) DO NOTHING
