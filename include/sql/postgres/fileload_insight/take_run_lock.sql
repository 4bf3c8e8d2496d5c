-- Atomic: the primary key lets exactly one run insert the partition's row; the others insert nothing.
INSERT INTO partition_run_lock (partition_name, dag_id, run_id, acquired_at)
VALUES (%(partition)s, %(dag_id)s, %(run_id)s, CURRENT_TIMESTAMP)
ON CONFLICT (partition_name) DO NOTHING
