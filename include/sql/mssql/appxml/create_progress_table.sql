-- Which partitions (modulus = workers, remainder) of the staging have reached their end (created when missing):
-- a run with another workers value is refused while one of them has not (see pipelines.appxml.modulus).
-- Placeholders filled by pipelines.appxml.ddl with quoted identifiers: {table}, {table_literal}.
IF OBJECT_ID(N'{table_literal}', N'U') IS NULL
CREATE TABLE {table} (
    modulus INT NOT NULL,
    remainder INT NOT NULL,
    finished BIT NOT NULL,
    updated_at DATETIME2 NOT NULL DEFAULT (SYSUTCDATETIME()),
    PRIMARY KEY (modulus, remainder)
);
