INSERT INTO dbo.insight_lock_flag (partition_name, dag_id, holder, set_at)
SELECT %(partition)s, %(dag_id)s, %(run_id)s, SYSUTCDATETIME()
WHERE NOT EXISTS (
    SELECT 1 FROM dbo.insight_lock_flag WITH (UPDLOCK, HOLDLOCK) WHERE partition_name = %(partition)s
)
