-- Recreated after the load; a no-op when the index is already there.
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'{index_literal}' AND object_id = OBJECT_ID(N'{table_literal}'))
CREATE INDEX {index} ON {table} (app_id);
