-- Lock tables in a partition's OutcomesIdentification database (PostgreSQL stand-in for SQL Server).
-- partition_run_lock: one row while a Fileload or Insight run holds the partition, first step to last.
-- insight_lock_flag: one row while Insight runs; policy pushes (ClientOps) must not run while it exists.
CREATE TABLE IF NOT EXISTS partition_run_lock (
    partition_name VARCHAR(32) PRIMARY KEY,
    dag_id VARCHAR(250) NOT NULL,
    run_id VARCHAR(250) NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS insight_lock_flag (
    partition_name VARCHAR(32) PRIMARY KEY,
    dag_id VARCHAR(250) NOT NULL,
    holder VARCHAR(250) NOT NULL,
    set_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);
