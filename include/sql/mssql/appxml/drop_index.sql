-- Dropped before a large load (inserts skip its maintenance); recreated by create_index.sql afterwards.
DROP INDEX IF EXISTS {index} ON {table};
