-- Staging table for reduced app_XML documents (created when missing).
-- Placeholders filled by pipelines.appxml.ddl with quoted identifiers: {table}, {table_literal}.
IF OBJECT_ID(N'{table_literal}', N'U') IS NULL
CREATE TABLE {table} (
    app_id INT NOT NULL PRIMARY KEY,
    [app_XML] NVARCHAR(MAX) NULL,
    extracted_at DATETIME2 NOT NULL DEFAULT (SYSUTCDATETIME())
);
