"""OpenDental nightly ETL: production MySQL -> local MySQL replica -> PostgreSQL raw -> PostgreSQL public.

Modules: ``config`` (include/config/opendental_tables.yaml), ``identifiers`` (validated, quoted names),
``schema`` (information_schema discovery, MySQL -> PostgreSQL types, per-column row encoders),
``plan`` (strategy and order per table), ``extract`` (source -> replica), ``load`` (replica -> raw),
``transform`` (raw -> public), ``validation`` (row counts between stages), ``runner`` (the task bodies
the DAG calls), ``generator`` (realistic rows for any table, for tests, the demo and the benchmark).
"""
