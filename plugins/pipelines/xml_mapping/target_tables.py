"""The target tables as SQLAlchemy Core objects, generated from the contracts, and their DDL.

Column types and lengths follow the mappings' ``data_type`` / ``data_length``; NOT NULL where a mapping says
``nullable: false`` (with the contract's default as the column default); keys as the mapping doc lists them.
Tables several contracts share (``app_base``, ``app_contact_base``, ``scores`` ...) hold the union of their
columns. SQLAlchemy compiles the DDL per engine: T-SQL on SQL Server (NVARCHAR, BIT, DATETIME2, IDENTITY),
PostgreSQL in tests; tables are created when missing, in the contract's ``target_schema``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.schema import CreateSchema

from pipelines.common.database.tables import UtcNow
from pipelines.common.paths import read_sql
from pipelines.xml_mapping.contract import PROCESSING_LOG, Mapping
from pipelines.xml_mapping.creators import CreatorType
from pipelines.xml_mapping.errors import TargetSchemaMismatch
from pipelines.xml_mapping.mapper import ADDRESS, CONTACT, EMPLOYMENT, CompiledContract

log = logging.getLogger(__name__)

DECIMAL_PRECISION = 18
DEFAULT_SCALE = 2
STATUS_SUCCESS, STATUS_FAILED = "success", "failed"
_TEXT_MAX = sa.UnicodeText().with_variant(mssql.NVARCHAR(), "mssql")
_DATETIME = sa.DateTime().with_variant(mssql.DATETIME2(), "mssql")
_BIT = sa.SmallInteger().with_variant(mssql.BIT(), "mssql")
_TINYINT = sa.SmallInteger().with_variant(mssql.TINYINT(), "mssql")
_LOCK_SQL = {"mssql": "mssql/xml_mapping/lock_target_ddl.sql", "postgresql": "postgres/xml_mapping/lock_target_ddl.sql"}


def column_type(data_type: str, data_length: int | None) -> sa.types.TypeEngine:
    if data_type == "string":
        return sa.Unicode(data_length) if data_length and data_length > 0 else _TEXT_MAX
    if data_type == "decimal":
        scale = data_length if data_length is not None and 0 <= data_length <= 8 else DEFAULT_SCALE
        return sa.Numeric(DECIMAL_PRECISION, scale)
    return {"int": sa.Integer(), "smallint": sa.SmallInteger(), "tinyint": _TINYINT, "bigint": sa.BigInteger(),
            "bit": _BIT, "datetime": _DATETIME, "date": sa.Date()}[data_type]


@dataclass
class _ColumnSpec:
    name: str
    data_type: str
    data_length: int | None
    nullable: bool = True
    default: object = None

    def merge(self, other: _ColumnSpec) -> None:
        """Two mappings (or two contracts) write one column: the wider length, NOT NULL if either says so."""
        if self.data_type == "string" and other.data_type == "string":
            lengths = [self.data_length, other.data_length]
            self.data_length = None if any(n is None or n <= 0 for n in lengths) else max(lengths)  # type: ignore[type-var]
        self.nullable = self.nullable and other.nullable
        if self.default is None:
            self.default = other.default


@dataclass
class _TableSpec:
    name: str
    columns: dict[str, _ColumnSpec] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    parent: tuple[str, str] | None = None  # (parent table, key column)

    def add(self, spec: _ColumnSpec) -> None:
        if spec.name in self.columns:
            self.columns[spec.name].merge(spec)
        else:
            self.columns[spec.name] = spec


def _default_literal(mapping: Mapping) -> object:
    value = mapping.default_value
    if value in (None, "") or mapping.nullable:
        return None
    return value


def _add_creator_columns(spec: _TableSpec, kind: CreatorType, app_table: str) -> None:
    """The columns and keys a row-creating type gives its table (after the columns its mappings write)."""
    for name, data_type, length in kind.columns:
        spec.add(_ColumnSpec(name, data_type, length, name not in kind.keys))
    spec.primary_key = tuple(key for key in kind.keys if key in spec.columns)
    spec.parent = (app_table, "app_id")


def _table_specs(compiled: CompiledContract) -> dict[str, _TableSpec]:
    specs: dict[str, _TableSpec] = {}
    app_table = next((plan.table for plan in compiled.tables if plan.always and plan.kind == "single"), "app_base")
    contact_table = next((plan.table for plan in compiled.tables if plan.kind == CONTACT), None)
    for plan in compiled.tables:
        spec = specs.setdefault(plan.table, _TableSpec(plan.table))
        for column in plan.columns:
            m = column.mapping
            spec.add(_ColumnSpec(m.target_column, m.data_type, m.data_length, m.nullable, _default_literal(m)))
        if plan.kind == "single":
            spec.add(_ColumnSpec("app_id", "int", None, False))
            spec.primary_key = ("app_id",)
            spec.parent = None if plan.table == app_table else (app_table, "app_id")
        elif plan.kind == CONTACT:
            spec.add(_ColumnSpec("con_id", "int", None, False))
            spec.add(_ColumnSpec("app_id", "int", None, False))
            spec.primary_key = ("con_id",)
            spec.parent = (app_table, "app_id")
        elif plan.kind in (ADDRESS, EMPLOYMENT):
            spec.add(_ColumnSpec("con_id", "int", None, False))
            spec.primary_key = plan.keys
            for key in plan.keys:
                spec.columns[key].nullable = False
            spec.parent = (contact_table, "con_id") if contact_table else None
    for creator in compiled.simple_creators:
        table = creator.mapping.target_table
        _add_creator_columns(specs.setdefault(table, _TableSpec(table)), creator.kind, app_table)
    for group in compiled.groups:
        spec = specs.setdefault(group.table, _TableSpec(group.table))
        for column in group.columns:
            m = column.mapping
            spec.add(_ColumnSpec(m.target_column, m.data_type, m.data_length, m.nullable, _default_literal(m)))
        _add_creator_columns(spec, group.kind, app_table)
    for spec in specs.values():
        for key in spec.primary_key:
            spec.columns[key].nullable = False
    return specs


def _merged_specs(contracts: Iterable[CompiledContract]) -> tuple[dict[str, _TableSpec], list[str], str]:
    merged: dict[str, _TableSpec] = {}
    order: list[str] = []
    schemas = set()
    for compiled in contracts:
        schemas.add(compiled.contract.target_schema)
        for name, spec in _table_specs(compiled).items():
            if name not in merged:
                merged[name] = spec
                continue
            for column in spec.columns.values():
                merged[name].add(column)
        for table in compiled.contract.table_insertion_order:
            if table not in order:
                order.append(table)
    if len(schemas) != 1:
        raise ValueError(f"contracts name different target schemas: {sorted(schemas)}")
    return merged, order, schemas.pop()


def processing_log_table(metadata: sa.MetaData, schema: str | None) -> sa.Table:
    table = sa.Table(
        PROCESSING_LOG, metadata,
        sa.Column("log_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(), primary_key=True),
        sa.Column("app_id", sa.Integer, nullable=False),
        sa.Column("status", sa.Unicode(20), nullable=False),
        sa.Column("failure_reason", sa.Unicode(500)),
        sa.Column("processing_time", _DATETIME, nullable=False, server_default=UtcNow()),
        sa.Column("session_id", sa.Unicode(100)),
        schema=schema,
    )
    sa.Index(f"IX_{PROCESSING_LOG}_app_id_status", table.c.app_id, table.c.status)
    return table


@dataclass
class TargetSchema:
    """Every target table of the loaded contracts, in insertion order (parents first)."""

    schema: str
    metadata: sa.MetaData
    tables: dict[str, sa.Table]
    order: list[str]

    @property
    def processing_log(self) -> sa.Table:
        return self.tables[PROCESSING_LOG]

    def data_tables(self) -> list[sa.Table]:
        return [self.tables[name] for name in self.order if name != PROCESSING_LOG]


def build_schema(contracts: Iterable[CompiledContract], dialect_name: str = "mssql") -> TargetSchema:
    specs, order, schema_name = _merged_specs(list(contracts))
    schema = None if dialect_name == "sqlite" else schema_name
    metadata = sa.MetaData()
    tables: dict[str, sa.Table] = {}
    ordered = [name for name in order if name in specs] + [name for name in specs if name not in order]
    for name in ordered:
        spec = specs[name]
        columns = []
        for column in spec.columns.values():
            server_default = None
            if column.default is not None and not column.nullable:
                server_default = sa.text(_sql_literal(column.default, column.data_type))
            columns.append(sa.Column(column.name, column_type(column.data_type, column.data_length),
                                     nullable=column.nullable, server_default=server_default,
                                     autoincrement=False))
        constraints: list[sa.SchemaItem] = [sa.PrimaryKeyConstraint(*spec.primary_key, name=f"PK_{name}")]
        if spec.parent and spec.parent[0] in tables:
            parent, key = spec.parent
            qualified = f"{schema}.{parent}.{key}" if schema else f"{parent}.{key}"
            constraints.append(sa.ForeignKeyConstraint([key], [qualified], name=f"FK_{name}_{parent}"))
        tables[name] = sa.Table(name, metadata, *columns, *constraints, schema=schema)
        if spec.parent and spec.primary_key[:1] != (spec.parent[1],):
            sa.Index(f"IX_{name}_{spec.parent[1]}", tables[name].c[spec.parent[1]])
    tables[PROCESSING_LOG] = processing_log_table(metadata, schema)
    if PROCESSING_LOG not in ordered:
        ordered.append(PROCESSING_LOG)
    return TargetSchema(schema_name, metadata, tables, ordered)


def _sql_literal(value: object, data_type: str) -> str:
    if data_type in ("string", "date", "datetime"):
        return "'" + str(value).replace("'", "''") + "'"
    return str(int(float(str(value)))) if data_type != "decimal" else str(value)


def ddl_lock(dialect_name: str, schema: str) -> sa.TextClause | None:
    """The statement that serialises the target DDL of one schema (None where there is no server: SQLite)."""
    file_name = _LOCK_SQL.get(dialect_name)
    if file_name is None:
        return None
    text = "\n".join(line for line in read_sql(file_name).splitlines() if not line.lstrip().startswith("--"))
    return sa.text(text.strip().rstrip(";")).bindparams(resource=f"xml_mapping_ddl:{schema}")


def ensure_schema(engine: sa.Engine, target: TargetSchema) -> None:
    """Create the schema and every missing table and index; existing tables are left as they are.

    Workers started at the same moment all find the schema missing: the DDL runs under a lock held until
    the transaction ends, and the existence checks run after it is granted, so the later workers find what
    the first one created instead of colliding on it."""
    lock = ddl_lock(engine.dialect.name, target.schema)
    with engine.begin() as conn:
        if lock is not None:
            conn.execute(lock)
        if engine.dialect.name != "sqlite" and not sa.inspect(conn).has_schema(target.schema):
            conn.execute(CreateSchema(target.schema))
        target.metadata.create_all(conn, checkfirst=True)
    log.info("Target schema %s ready: %d tables", target.schema, len(target.tables))


# -- the live tables against the contracts ----------------------------------------------------------------
_INTEGER_BYTES = ((mssql.TINYINT, 1), (sa.SmallInteger, 2), (sa.BigInteger, 8), (sa.Integer, 4))


def _kind(type_: sa.types.TypeEngine) -> str:
    if isinstance(type_, (mssql.BIT, sa.Boolean)):
        return "bit"
    for name, base in (("integer", sa.Integer), ("decimal", sa.Numeric), ("datetime", sa.DateTime),
                       ("date", sa.Date), ("string", sa.String)):
        if isinstance(type_, base) and not isinstance(type_, sa.Float):
            return name
    return type(type_).__name__.lower()


def _integer_bytes(type_: sa.types.TypeEngine) -> int:
    return next(size for base, size in _INTEGER_BYTES if isinstance(type_, base))


def _type_problem(wanted: sa.types.TypeEngine, live: sa.types.TypeEngine, dialect: sa.Dialect) -> bool:
    """Whether the live type could refuse, cut, round or re-encode a value of the contract's type. A wider
    integer, a longer string or more integer digits is fine; anything else that differs is not."""
    kind = _kind(wanted)
    if _kind(live) != kind:
        return True
    if kind == "integer":
        return _integer_bytes(live) < _integer_bytes(wanted)
    if kind == "string":
        national = dialect.name != "mssql" or isinstance(live, (sa.NVARCHAR, sa.NCHAR, mssql.NTEXT))
        wanted_length, live_length = wanted.length, live.length  # type: ignore[attr-defined]
        too_short = live_length is not None and (wanted_length is None or live_length < wanted_length)
        return too_short or not national
    if kind == "decimal":
        scale, live_scale = wanted.scale or 0, live.scale or 0  # type: ignore[attr-defined]
        digits = (wanted.precision or 0) - scale  # type: ignore[attr-defined]
        return live_scale != scale or (live.precision is not None and live.precision - live_scale < digits)  # type: ignore[attr-defined]
    if kind == "datetime":
        precise = dialect.name != "mssql" or isinstance(live, mssql.DATETIME2)
        return not precise or bool(getattr(live, "timezone", False))
    return False


def _described(type_: sa.types.TypeEngine, nullable: bool, dialect: sa.Dialect) -> str:
    return f"{type_.compile(dialect=dialect)} {'NULL' if nullable else 'NOT NULL'}"


def schema_mismatches(conn: sa.Connection, target: TargetSchema) -> list[str]:
    """``table.column: contract vs database`` for every column of an existing target table that differs in
    type, length, precision or nullability (NOT NULL where the contract allows NULL); missing tables are not
    listed (they are created)."""
    dialect = conn.dialect
    inspector = sa.inspect(conn)
    schema = None if dialect.name == "sqlite" else target.schema
    problems = []
    for name in target.order:
        table = target.tables[name]
        if not inspector.has_table(name, schema=schema):
            continue
        live = {column["name"].lower(): column for column in inspector.get_columns(name, schema=schema)}
        for column in table.columns:
            problem = _column_problem(column, live.get(column.name.lower()), dialect)
            if problem:
                problems.append(f"{name}.{column.name}: {problem}")
    return problems


def _column_problem(column: sa.Column, found: dict | None, dialect: sa.Dialect) -> str | None:
    """``contract vs database`` when the live column cannot take what the contract writes, else None."""
    wanted = column.type.dialect_impl(dialect)
    contract = _described(wanted, bool(column.nullable), dialect)
    if found is None:
        return f"{contract} vs (missing)"
    if _type_problem(wanted, found["type"], dialect) or (column.nullable and not found["nullable"]):
        return f"{contract} vs {_described(found['type'], found['nullable'], dialect)}"
    return None


def target_report(engine: sa.Engine, target: TargetSchema) -> dict[str, object]:
    """What a run would find, for DBAs preparing a target (nothing is written): the tables it would create and
    the columns that would refuse the partition."""
    schema = None if engine.dialect.name == "sqlite" else target.schema
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        missing = [name for name in target.order if not inspector.has_table(name, schema=schema)]
        mismatches = schema_mismatches(conn, target)
    return {"schema": target.schema, "tables": len(target.order), "missing_tables": missing,
            "mismatched_columns": mismatches}


def report_and_dispose(engine: sa.Engine, contracts: Iterable[CompiledContract]) -> dict[str, Any]:
    """``target_report`` of the contracts' tables through ``engine``, which is disposed afterwards."""
    try:
        return target_report(engine, build_schema(contracts, engine.dialect.name))
    finally:
        engine.dispose()


def check_target(engine: sa.Engine, target: TargetSchema) -> None:
    """Refuse to write into existing tables that do not match the contracts, naming every mismatched column."""
    with engine.connect() as conn:
        problems = schema_mismatches(conn, target)
    if problems:
        raise TargetSchemaMismatch(f"{len(problems)} column(s) of schema {target.schema} do not match the "
                                   f"contracts: {'; '.join(problems)}")
