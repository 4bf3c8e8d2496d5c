-- Dropped before a large load; recreated by create_index.sql afterwards.
DROP INDEX IF EXISTS {schema}.{index};
