-- Recreated after the load; a no-op when the index is already there.
CREATE INDEX IF NOT EXISTS {index} ON {table} (app_id);
