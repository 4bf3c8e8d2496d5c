-- PostgreSQL equivalent of mssql/xml_mapping/lock_target_ddl.sql (the stand-in for SQL Server in tests):
-- a transaction-level advisory lock serialises the creation of the target schema and tables.
-- Bound parameter: :resource (names the target schema).
SELECT pg_advisory_xact_lock(hashtext(:resource))
