-- PostgreSQL equivalent of mssql/appxml/create_progress_table.sql (the stand-in for SQL Server in tests).
-- Placeholders filled by pipelines.appxml.ddl with quoted identifiers: {schema}, {table}.
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {table} (
    modulus integer NOT NULL,
    remainder integer NOT NULL,
    finished boolean NOT NULL,
    updated_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    PRIMARY KEY (modulus, remainder)
);
