SELECT pg_advisory_xact_lock(hashtext('opendental_etl_schemas'));
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS public
