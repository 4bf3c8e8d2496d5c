-- Lock tables in a partition's OutcomesIdentification database.
-- partition_run_lock: one row while a Fileload or Insight run holds the partition, first step to last.
-- insight_lock_flag: one row while Insight runs; policy pushes (ClientOps) must not run while it exists.
IF OBJECT_ID(N'dbo.partition_run_lock', N'U') IS NULL
CREATE TABLE dbo.partition_run_lock (
    partition_name NVARCHAR(32) NOT NULL CONSTRAINT pk_partition_run_lock PRIMARY KEY,
    dag_id NVARCHAR(250) NOT NULL,
    run_id NVARCHAR(250) NOT NULL,
    acquired_at DATETIME2(3) NOT NULL CONSTRAINT df_partition_run_lock_acquired_at DEFAULT SYSUTCDATETIME()
);
IF OBJECT_ID(N'dbo.insight_lock_flag', N'U') IS NULL
CREATE TABLE dbo.insight_lock_flag (
    partition_name NVARCHAR(32) NOT NULL CONSTRAINT pk_insight_lock_flag PRIMARY KEY,
    dag_id NVARCHAR(250) NOT NULL,
    holder NVARCHAR(250) NOT NULL,
    set_at DATETIME2(3) NOT NULL CONSTRAINT df_insight_lock_flag_set_at DEFAULT SYSUTCDATETIME()
);
