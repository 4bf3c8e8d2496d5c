"""Per-table strategy and run order, from the discovered schema and include/config/opendental.yaml."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from pipelines.opendental.config import Settings
from pipelines.opendental.errors import PlanError
from pipelines.opendental.identifiers import validate_tables
from pipelines.opendental.schema import TableSchema


@dataclass(frozen=True)
class TablePlan:
    table: str
    strategy: str  # incremental | append_only | full
    watermark_column: str | None
    key_column: str | None  # single integer primary key used for keyset pages (None: one streamed read)
    primary_key: tuple[str, ...]
    estimated_rows: int
    size_bytes: int
    force: bool = False

    # Crossing XCom a plan is a plain dict, dumped and validated by pydantic as ``TableRun`` is (which holds
    # its plan in the same form): one serialisation for every record the tasks hand over.
    def to_xcom(self) -> dict[str, Any]:
        return _XCOM.dump_python(self, mode="json")

    @classmethod
    def from_xcom(cls, data: Mapping[str, Any]) -> TablePlan:
        return _XCOM.validate_python(dict(data))


_XCOM: TypeAdapter[TablePlan] = TypeAdapter(TablePlan)


def choose_strategy(schema: TableSchema, settings: Settings) -> tuple[str, str | None]:
    """(strategy, watermark column) by the discovery rules, then the table's override."""
    override = settings.override(schema.name)
    watermark = None
    if override.watermark:
        col = schema.column(override.watermark)
        if col is None or not col.is_temporal:
            raise PlanError(f"{schema.name}: watermark column {override.watermark!r} is not a date/time column")
        watermark = col.name
    else:
        for candidate in settings.watermark_columns:
            col = schema.column(candidate)
            if col is not None and col.is_temporal:
                watermark = col.name
                break
    if not schema.primary_key:
        strategy = "full"  # nothing to upsert on or to page by
    elif override.strategy:
        strategy = override.strategy
    elif watermark:
        strategy = "incremental"
    elif schema.auto_increment_key is not None:
        strategy = "append_only"
    else:
        strategy = "full"
    if strategy == "incremental" and not watermark:
        raise PlanError(f"{schema.name}: strategy incremental needs a watermark column")
    if strategy == "append_only" and schema.integer_key is None:
        raise PlanError(f"{schema.name}: strategy append_only needs a single integer primary key")
    return strategy, watermark if strategy == "incremental" else None


def order_key(schema: TableSchema, settings: Settings) -> tuple:
    """Core tables first (configured order or explicit priority), then largest first, ``*log`` last."""
    name = schema.name.lower()
    override = settings.override(name)
    if override.priority is not None:
        return (0, override.priority, -schema.data_length, name)
    if name in settings.priority_tables:
        return (0, settings.priority_tables.index(name), 0, name)
    group = 2 if name.endswith("log") else 1
    return (group, 0, -schema.data_length, name)


def build_plan(
    schemas: Mapping[str, TableSchema],
    settings: Settings,
    requested: Iterable[str] | None = None,
    *,
    force: bool = False,
) -> list[TablePlan]:
    """The ordered plan for the requested tables (all not excluded when none are requested)."""
    candidates = {n: s for n, s in schemas.items() if requested or not settings.override(n).exclude}
    names = validate_tables(list(requested) if requested else None, candidates)
    plans = []
    for name in sorted(names, key=lambda n: order_key(schemas[n], settings)):
        schema = schemas[name]
        strategy, watermark = choose_strategy(schema, settings)
        key = schema.integer_key
        plans.append(TablePlan(
            table=name, strategy=strategy, watermark_column=watermark, key_column=key.name if key else None,
            primary_key=schema.primary_key, estimated_rows=schema.estimated_rows, size_bytes=schema.data_length,
            force=force,
        ))
    return plans


def format_plan(plans: Iterable[TablePlan], details: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """A fixed-width table of the plan for the task log (dry run and every real run)."""
    details = details or {}
    rows = [("table", "strategy", "watermark column", "last value", "est. rows", "rows to copy")]
    for p in plans:
        d = details.get(p.table, {})
        rows.append((p.table, "full (forced)" if p.force else p.strategy, p.watermark_column or "-",
                     str(d.get("last_value") or "-"), f"{p.estimated_rows:,}",
                     "-" if d.get("rows_to_copy") is None else f"{d['rows_to_copy']:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
