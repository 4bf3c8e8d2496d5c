"""The row-creating mapping types (``add_score(X)``, ``add_collateral(N)``, ...), each described once.

A type says whether it takes an argument, which columns and keys its table has, and how a mapped value
becomes a row. The contract checks the argument, the schema builds the table from the columns and keys, the
mapper calls the row builder. A *grouped* type (collateral, warranty) makes one row of several mappings: the
mappings that share its table and argument are the row's columns, and the argument is its slot.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pipelines.xml_mapping.expressions import is_empty
from pipelines.xml_mapping.values import MEANINGLESS_TEXT, UNCONVERTIBLE, loss

if TYPE_CHECKING:  # the contract's mapping is only read here; the contract imports this module
    from pipelines.xml_mapping.contract import Mapping

_TRUTHY = {"y", "yes", "true", "t", "1"}

#: (column, data_type, data_length) as a contract would write them.
ColumnDef = tuple[str, str, int | None]
Key = tuple[Any, ...]


class CreatorRows:
    """The rows the row-creating types make of one document: by table, then by primary key (a later value
    of the same key replaces the earlier one in its place)."""

    def __init__(self, app_id: int, conversions: Counter | None = None) -> None:
        self.app_id = app_id
        # (table, column, kind) -> values a conversion changed: the document's count (see values.LOSS_KINDS)
        self.conversions = Counter() if conversions is None else conversions
        self.keyed: dict[str, dict[Key, dict[str, Any]]] = {}
        self.notes: dict[str, str | None] = {}
        # Policy exceptions wait for the notes, which any mapping of their table may set, even a later one.
        self.exceptions: list[tuple[str, Key, dict[str, Any]]] = []

    def put(self, table: str, key: Key, row: dict[str, Any]) -> None:
        self.keyed.setdefault(table, {})[key] = row

    def put_exceptions(self) -> None:
        for table, key, row in self.exceptions:
            row["notes"] = self.notes.get(table)
            self.put(table, key, row)

    def by_table(self) -> dict[str, list[dict[str, Any]]]:
        return {table: list(by_key.values()) for table, by_key in self.keyed.items()}


#: rows, the mapping, its creator's argument, the value after the mapping's steps, the column's converter.
RowBuilder = Callable[["CreatorRows", "Mapping", "str | None", Any, Callable[[Any], Any]], None]


def _score(rows: CreatorRows, mapping: Mapping, arg: str | None, value: Any, convert: Callable[[Any], Any]) -> None:
    if is_empty(value):
        return
    score = convert(value)
    # A score that does not convert makes no row, and one rounded to an integer is not what the document said.
    lost = loss(mapping.data_type, mapping.data_length)
    kind = UNCONVERTIBLE if score is None else lost(value, score) if lost is not None else None
    if kind is not None:
        rows.conversions[mapping.target_table, "score", kind] += 1
    if score is not None:
        rows.put(mapping.target_table, (arg,), {"app_id": rows.app_id, "score_identifier": arg, "score": score})


def _indicator(rows: CreatorRows, mapping: Mapping, arg: str | None, value: Any,
               convert: Callable[[Any], Any]) -> None:
    if isinstance(value, str) and value.strip().lower() in _TRUTHY:
        rows.put(mapping.target_table, (arg,), {"app_id": rows.app_id, "indicator": arg, "value": "1"})


def _history(rows: CreatorRows, mapping: Mapping, arg: str | None, value: Any, convert: Callable[[Any], Any]) -> None:
    if value is not None and str(value).strip().lower() not in MEANINGLESS_TEXT:
        name = f"[{mapping.xml_attribute}]"
        rows.put(mapping.target_table, (name,), {
            "app_id": rows.app_id, "name": name, "source": f"[{mapping.xml_path.rsplit('/', 1)[-1]}]",
            "value": str(value).strip()})


def _report_lookup(rows: CreatorRows, mapping: Mapping, arg: str | None, value: Any,
                   convert: Callable[[Any], Any]) -> None:
    if not is_empty(value):
        rows.put(mapping.target_table, (mapping.xml_attribute,), {
            "app_id": rows.app_id, "name": mapping.xml_attribute, "value": str(value).strip(),
            "source_report_key": arg})


def _policy_exception(rows: CreatorRows, mapping: Mapping, arg: str | None, value: Any,
                      convert: Callable[[Any], Any]) -> None:
    """Without an argument the mapping holds the table's notes; with one, an exception of that type."""
    table = mapping.target_table
    if arg is None:
        rows.notes[table] = None if is_empty(value) else str(value).strip()
    elif not is_empty(value):
        rows.exceptions.append((table, (arg,), {
            "app_id": rows.app_id, "policy_exception_type_enum": int(arg), "reason_code": str(value).strip()}))


@dataclass(frozen=True)
class CreatorType:
    name: str
    argument: Literal["required", "none", "optional"]
    columns: tuple[ColumnDef, ...]
    keys: tuple[str, ...]
    # A grouped type has no builder: its row is made of all its mappings at once (``CompiledContract``).
    build: RowBuilder | None = field(default=None, repr=False)
    slot: str | None = None  # a grouped type's column that holds its argument as a number

    @property
    def grouped(self) -> bool:
        return self.slot is not None

    @property
    def mapped_keys(self) -> tuple[str, ...]:
        """The keys a grouped type's mappings write (not the app_id, not the slot)."""
        return tuple(key for key in self.keys if key not in ("app_id", self.slot))


_APP_ID: ColumnDef = ("app_id", "int", None)

CREATOR_TYPES = {creator.name: creator for creator in (
    CreatorType("add_score", "required",
                (_APP_ID, ("score_identifier", "string", 50), ("score", "int", None)),
                ("app_id", "score_identifier"), _score),
    CreatorType("add_indicator", "required",
                (_APP_ID, ("indicator", "string", 50), ("value", "string", 10)),
                ("app_id", "indicator"), _indicator),
    CreatorType("add_history", "none",
                (_APP_ID, ("name", "string", 100), ("source", "string", 100), ("value", "string", None)),
                ("app_id", "name"), _history),
    CreatorType("add_report_lookup", "required",
                (_APP_ID, ("name", "string", 100), ("value", "string", None), ("source_report_key", "string", 50)),
                ("app_id", "name"), _report_lookup),
    CreatorType("policy_exceptions", "optional",
                (_APP_ID, ("policy_exception_type_enum", "smallint", None), ("reason_code", "string", 100),
                 ("notes", "string", None)),
                ("app_id", "policy_exception_type_enum"), _policy_exception),
    CreatorType("add_collateral", "required", (_APP_ID, ("sort_order", "smallint", None)),
                ("app_id", "collateral_type_enum", "sort_order"), slot="sort_order"),
    CreatorType("warranty_field", "required", (_APP_ID, ("warranty_type_enum", "smallint", None)),
                ("app_id", "warranty_type_enum"), slot="warranty_type_enum"),
)}
