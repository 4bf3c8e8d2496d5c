"""Loading and validating a mapping contract (the original's JSON format).

Everything wrong with a contract is one ``ContractError`` line naming the file and the mapping, e.g.
``mapping_contract_cc.json: mapping 12 (app_base.receive_date): unknown mapping type 'enumm'``. A contract that
loads is safe to compile: every table, enum map, data type and expression it names exists and parses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.common.config import ConfigError, read_document
from pipelines.common.identifiers import is_identifier
from pipelines.common.paths import config_path
from pipelines.xml_mapping.creators import CREATOR_TYPES, CreatorType
from pipelines.xml_mapping.errors import ContractError
from pipelines.xml_mapping.expressions import Compiled, ExpressionError, compile_expression
from pipelines.xml_mapping.values import DATA_TYPES

#: Where the deployment's contracts live, relative to include/config/.
CONTRACT_DIR = "xml_mapping"
PROCESSING_LOG = "processing_log"

# Mapping types that choose the element a value is read from.
SCOPES = {"last_valid_pr_contact", "last_valid_sec_contact", "curr_address_only", "authu_contact"}
# Mapping types that transform the value, in the order the mapping lists them.
TRANSFORMS = {"enum", "char_to_bit", "boolean_to_bit", "numbers_only", "extract_numeric", "extract_date",
              "calculated_field"}
# Mapping types with no effect on the value (the key is read like any attribute).
NO_OPS = {"identity_insert"}
# Row-creating types (creators.CREATOR_TYPES) are written name(argument).
_CREATOR = re.compile(r"^(?P<name>[a-z_]+)(?:\((?P<arg>[^()]*)\))?$")


@dataclass(frozen=True)
class Creator:
    name: str
    arg: str | None

    @property
    def kind(self) -> CreatorType:
        return CREATOR_TYPES[self.name]


@dataclass(frozen=True)
class Mapping:
    index: int
    xml_path: str
    xml_attribute: str
    target_table: str
    target_column: str
    data_type: str
    data_length: int | None
    scopes: tuple[str, ...]
    transforms: tuple[str, ...]
    creator: Creator | None
    expression: str | None
    enum_name: str | None
    default_value: Any
    nullable: bool
    required: bool
    exclude_default_when_record_empty: bool
    # The expression compiled while the contract is checked, so that it is parsed once.
    calculation: Compiled | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"mapping {self.index} ({self.target_table}.{self.target_column or self.xml_attribute})"


@dataclass(frozen=True)
class FilterRule:
    element_type: str
    xml_parent_path: str
    xml_child_path: str
    type_attribute: str | None
    allowed_types: tuple[str, ...]


@dataclass(frozen=True)
class Contract:
    name: str
    xml_application_path: str
    target_schema: str
    table_insertion_order: tuple[str, ...]
    filter_rules: tuple[FilterRule, ...]
    mappings: tuple[Mapping, ...]
    enum_mappings: dict[str, dict[str, Any]]
    bit_conversions: dict[str, dict[str, int]]
    source_table: str | None = None
    source_column: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def application_tag(self) -> str:
        return self.xml_application_path.rstrip("/").rsplit("/", 1)[-1]

    def rule(self, element_type: str) -> FilterRule | None:
        return next((rule for rule in self.filter_rules if rule.element_type == element_type), None)


def _fail(name: str, where: str, message: str) -> ContractError:
    return ContractError(f"{name}: {where}: {message}")


def _require(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], name: str) -> Any:
    if key not in doc:
        raise _fail(name, key, "missing")
    if not isinstance(doc[key], kind):
        raise _fail(name, key, f"expected {getattr(kind, '__name__', 'a list or object')}")
    return doc[key]


def _mapping_types(raw: Any, label: str, name: str) -> tuple[tuple[str, ...], tuple[str, ...], Creator | None]:
    if raw is None:
        items: list[str] = []
    elif isinstance(raw, str):
        items = [part.strip() for part in raw.split(",") if part.strip()]
    elif isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        items = [item.strip() for item in raw]
    else:
        raise _fail(name, label, "mapping_type must be a list of names or a comma-separated string")
    scopes, transforms, creator = [], [], None
    for item in items:
        if item in SCOPES:
            scopes.append(item)
        elif item in TRANSFORMS:
            transforms.append(item)
        elif item in NO_OPS:
            continue
        else:
            found = _creator(item, label, name)
            if creator is not None:
                raise _fail(name, label, "more than one row-creating mapping type")
            creator = found
    if len(scopes) > 1:
        raise _fail(name, label, f"more than one element scope: {', '.join(scopes)}")
    return tuple(scopes), tuple(transforms), creator


def _creator(item: str, label: str, name: str) -> Creator:
    match = _CREATOR.match(item)
    if not match or match["name"] not in CREATOR_TYPES:
        raise _fail(name, label, f"unknown mapping type {item!r}")
    argument = CREATOR_TYPES[match["name"]].argument
    arg = (match["arg"] or "").strip() or None
    if argument == "required" and arg is None:
        raise _fail(name, label, f"{match['name']} needs an argument, e.g. {match['name']}(X)")
    if argument == "none" and match["arg"] is not None:
        raise _fail(name, label, f"{match['name']} takes no argument")
    return Creator(match["name"], arg)


def _calculation(doc: dict[str, Any], transforms: tuple[str, ...], label: str, name: str) -> Compiled | None:
    if "calculated_field" not in transforms:
        return None
    expression = doc.get("expression")
    if not isinstance(expression, str):
        raise _fail(name, label, "calculated_field without an expression")
    try:
        return compile_expression(expression)
    except ExpressionError as exc:
        raise _fail(name, label, f"expression does not parse: {exc}") from None


def _data_length(raw: Any, label: str, name: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _fail(name, label, f"data_length must be an integer, got {raw!r}")
    return raw


def _parse_mapping(index: int, doc: Any, tables: set[str], enums: dict[str, Any], name: str) -> Mapping:
    if not isinstance(doc, dict):
        raise _fail(name, f"mapping {index}", "not an object")
    table = doc.get("target_table")
    column = doc.get("target_column") or ""
    label = f"mapping {index} ({table}.{column or doc.get('xml_attribute')})"
    for key in ("xml_path", "xml_attribute", "target_table", "data_type"):
        if not isinstance(doc.get(key), str) or not doc[key].strip():
            raise _fail(name, label, f"{key} is missing or empty")
    if not doc["xml_path"].startswith("/"):
        raise _fail(name, label, f"xml_path must be absolute, got {doc['xml_path']!r}")
    if table not in tables:
        raise _fail(name, label, f"table {table!r} is not in table_insertion_order")
    if not is_identifier(table) or (column and not is_identifier(column)):
        raise _fail(name, label, "table and column names must be identifiers (letters, digits, underscore)")
    if doc["data_type"] not in DATA_TYPES:
        raise _fail(name, label, f"unknown data_type {doc['data_type']!r} (known: {', '.join(DATA_TYPES)})")
    scopes, transforms, creator = _mapping_types(doc.get("mapping_type"), label, name)
    if not column and creator is None:
        raise _fail(name, label, "target_column is empty and no row-creating mapping type is given")
    if not column and creator is not None and creator.kind.grouped:  # its mappings are its row's columns
        raise _fail(name, label, f"{creator.name} needs a target_column")
    calculation = _calculation(doc, transforms, label, name)
    enum_name = doc.get("enum_name") or None
    if "enum" in transforms:
        enum_name = enum_name or column
        if enum_name not in enums:
            raise _fail(name, label, f"enum map {enum_name!r} does not exist in enum_mappings")
    return Mapping(
        index=index, xml_path=doc["xml_path"].rstrip("/"), xml_attribute=doc["xml_attribute"], target_table=table,
        target_column=column, data_type=doc["data_type"],
        data_length=_data_length(doc.get("data_length"), label, name), scopes=scopes, transforms=transforms,
        creator=creator, expression=doc.get("expression"), enum_name=enum_name, default_value=doc.get("default_value"),
        nullable=bool(doc.get("nullable", True)), required=bool(doc.get("required", False)),
        exclude_default_when_record_empty=bool(doc.get("exclude_default_when_record_empty", False)),
        calculation=calculation,
    )


def _parse_rules(doc: dict[str, Any], name: str) -> tuple[FilterRule, ...]:
    rules = []
    raw_rules = (doc.get("element_filtering") or {}).get("filter_rules") or []
    for index, raw in enumerate(raw_rules):
        where = f"element_filtering.filter_rules[{index}]"
        if not isinstance(raw, dict) or not raw.get("xml_child_path") or not raw.get("element_type"):
            raise _fail(name, where, "needs element_type and xml_child_path")
        typed = [(key, value) for key, value in (raw.get("required_attributes") or {}).items()
                 if isinstance(value, list)]
        type_attribute, allowed = (typed[0][0], tuple(str(v) for v in typed[0][1])) if typed else (None, ())
        rules.append(FilterRule(raw["element_type"], str(raw.get("xml_parent_path", "")).rstrip("/"),
                                raw["xml_child_path"].rstrip("/"), type_attribute, allowed))
    return tuple(rules)


def parse_contract(doc: Any, name: str) -> Contract:
    """A validated contract from its parsed JSON; ``name`` (the file name) prefixes every error."""
    if not isinstance(doc, dict):
        raise ContractError(f"{name}: a contract is a JSON object")
    app_path = _require(doc, "xml_application_path", str, name)
    schema = _require(doc, "target_schema", str, name)
    if not is_identifier(schema):
        raise _fail(name, "target_schema", f"{schema!r} is not an identifier")
    order = _require(doc, "table_insertion_order", list, name)
    bad = [table for table in order if not isinstance(table, str) or not is_identifier(table)]
    if bad:
        raise _fail(name, "table_insertion_order", f"not identifiers: {bad}")
    enums = _require(doc, "enum_mappings", dict, name) if "enum_mappings" in doc else {}
    for enum, values in enums.items():
        if not isinstance(values, dict):
            raise _fail(name, f"enum_mappings.{enum}", "must map codes to values")
    bits = doc.get("bit_conversions") or {}
    mappings = tuple(_parse_mapping(index, raw, set(order), enums, name)
                     for index, raw in enumerate(_require(doc, "mappings", list, name)))
    if not mappings:
        raise _fail(name, "mappings", "no mappings")
    return Contract(
        name=name, xml_application_path=app_path.rstrip("/"), target_schema=schema,
        table_insertion_order=tuple(order), filter_rules=_parse_rules(doc, name), mappings=mappings,
        enum_mappings=enums, bit_conversions={key: dict(value) for key, value in bits.items()},
        source_table=doc.get("source_table"), source_column=doc.get("source_column"), raw=doc,
    )


def contract_path(name: str | Path) -> Path:
    """A contract file: an absolute path as is, a bare name under include/config/xml_mapping/."""
    path = Path(name)
    return path if path.is_absolute() or path.exists() else config_path(f"{CONTRACT_DIR}/{name}")


def load_contract(name: str | Path) -> Contract:
    path = contract_path(name)
    try:
        doc = read_document(path)
    except ConfigError as exc:
        raise ContractError(str(exc)) from None
    return parse_contract(doc, path.name)
