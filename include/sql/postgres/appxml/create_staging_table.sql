-- PostgreSQL equivalent of mssql/appxml/create_staging_table.sql (the stand-in for SQL Server in tests).
-- Placeholders filled by pipelines.appxml.ddl with quoted identifiers: {schema}, {table}.
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {table} (
    app_id integer NOT NULL PRIMARY KEY,
    "app_XML" text NULL,
    extracted_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
