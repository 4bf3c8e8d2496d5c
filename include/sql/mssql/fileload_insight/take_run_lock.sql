-- Atomic: UPDLOCK + HOLDLOCK make the existence check and the insert one step, so exactly one run
-- inserts the partition's row; the others insert nothing.
INSERT INTO dbo.partition_run_lock (partition_name, dag_id, run_id, acquired_at)
SELECT %(partition)s, %(dag_id)s, %(run_id)s, SYSUTCDATETIME()
WHERE NOT EXISTS (
    SELECT 1 FROM dbo.partition_run_lock WITH (UPDLOCK, HOLDLOCK) WHERE partition_name = %(partition)s
)
