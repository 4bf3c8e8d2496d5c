"""OpenDental nightly ETL: production MySQL -> local MySQL replica -> PostgreSQL raw -> PostgreSQL public.

Modules: ``config`` (include/config/opendental.yaml), ``identifiers`` (validated, quoted names),
``schema`` (information_schema discovery, MySQL -> PostgreSQL types, per-column row encoders),
``plan`` (strategy and order per table), ``tablerun`` (the typed record a table's run carries from stage
to stage, and the one rule deciding full / incremental / append-only), ``db`` (the database helpers every
stage shares), ``extract`` (source -> replica), ``load`` (replica -> raw), ``transform`` (raw -> public),
``validation`` (row counts between stages), ``tasks`` (the task bodies the DAG calls), ``errors``.
Stages import the shared modules, never each other.
"""
