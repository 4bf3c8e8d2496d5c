"""A contract compiled once into plain Python, and the mapping of one parsed document with it.

Compiling resolves everything the contract says as text: which elements a document must be read for (a
trie of paths), which element each mapping reads (the application's last element at a path, the row's own
contact / address / employment, the primary or secondary contact, the authorised user), the converter of
its column, its enum map and its calculated expression (a closure). Mapping a document then walks the tree
once, keeping only the elements on those paths as small ``Node``s, and evaluates the compiled plans.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from pipelines.xml_mapping.contract import Contract, Creator, Mapping
from pipelines.xml_mapping.creators import CREATOR_TYPES, CreatorRows, CreatorType, RowBuilder
from pipelines.xml_mapping.errors import MappingError
from pipelines.xml_mapping.expressions import referenced_names
from pipelines.xml_mapping.values import (
    MEANINGLESS_TEXT,
    UNCONVERTIBLE,
    UNMATCHED,
    Loss,
    converter,
    digits_only,
    loss,
    parse_datetime,
)

CONTACT, ADDRESS, EMPLOYMENT = "contact", "address", "employment"
NO_DATA, DERIVED, DATA = 0, 1, 2


def meaningful(value: Any) -> bool:
    """Data worth a row: not empty, not ``null``/``none``, not a zero."""
    if value is None:
        return False
    if isinstance(value, Decimal):
        return value != 0
    text = str(value).strip()
    if text.lower() in MEANINGLESS_TEXT:
        return False
    return not (text[0] in "0-+.$" and text.replace(".", "", 1).lstrip("-+$").strip("0") == "")


# -- the parsed document ---------------------------------------------------------------------------------
class Node:
    """An element kept for mapping: its tag, its attributes (keys lower-cased: names match
    case-insensitively) and its kept children by tag."""

    __slots__ = ("attrs", "children", "name", "tag")

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.name = tag.lower()
        self.attrs = attrs
        self.children: dict[str, list[Node]] = {}

    def get(self, attribute: str) -> str | None:
        return self.attrs.get(attribute)

    def last(self, tag: str) -> Node | None:
        nodes = self.children.get(tag)
        return nodes[-1] if nodes else None


class _Trie:
    __slots__ = ("children", "key")

    def __init__(self, key: str) -> None:
        self.key = key
        self.children: dict[str, _Trie] = {}

    def add(self, parts: list[str]) -> None:
        node = self
        for part in parts:
            node = node.children.setdefault(part, _Trie(f"{node.key}/{part}"))


def _collect(element: Any, trie: _Trie, nodes: dict[str, list[Node]]) -> Node:
    """Depth-first over the wanted paths only: one pass, each kept element's attributes read once."""
    node = Node(element.tag, {key.lower(): value for key, value in element.attrib.items()})
    nodes.setdefault(trie.key, []).append(node)
    wanted = trie.children
    if wanted:
        for child in element:
            sub = wanted.get(child.tag)
            if sub is not None:
                node.children.setdefault(child.tag, []).append(_collect(child, sub, nodes))
    return node


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# -- one document's context --------------------------------------------------------------------------------
@dataclass
class Document:
    """What mapping reads from one document: nodes by path, the application, the filtered contacts."""

    app_id: int
    nodes: dict[str, list[Node]]
    app: Node
    by_tag: dict[str, Node]
    contacts: list[Node] = field(default_factory=list)
    by_role: dict[str, Node] = field(default_factory=dict)
    # The last contact of each role, with or without a con_id: ``authu_contact`` reads it.
    any_by_role: dict[str, Node] = field(default_factory=dict)
    last: dict[str, Node] = field(default_factory=dict)
    # What conversions changed in this document: (table, column, kind) -> values (see values.LOSS_KINDS).
    conversions: Counter = field(default_factory=Counter)


# -- compiled column plans --------------------------------------------------------------------------------
Locator = Callable[[Document, Node | None], Node | None]


@dataclass
class ColumnPlan:
    mapping: Mapping
    column: str
    attribute: str
    locate: Locator
    steps: list[Callable[[Any, Node, Document], Any]]
    convert: Callable[[Any], Any]
    default: Any
    calculated: bool
    is_key: bool
    null_value: Any = None
    flag: bool = False
    lost: Loss | None = None

    def evaluate(self, doc: Document, row_node: Node | None, want_data: bool = True) -> tuple[Any, int]:
        """(column value, evidence): ``NO_DATA`` for a default, ``DERIVED`` for a value a lookup made of an
        empty attribute (a bit or an enum's default), ``DATA`` for a value from meaningful document data.
        ``want_data`` False: the row's fate is decided, any value is reported as ``DERIVED``."""
        node = self.locate(doc, row_node)
        if node is None:
            return self.default, NO_DATA
        raw = value = node.attrs.get(self.attribute)
        if self.steps:
            for step in self.steps:
                value = step(value, node, doc)
        if value is None or (value.__class__ is str and not value.strip()):
            return self.default, NO_DATA
        converted = self.convert(value)
        if converted is None:
            # A value that does not convert is NULL; a NOT NULL column takes the contract's default.
            doc.conversions[self.mapping.target_table, self.column, UNCONVERTIBLE] += 1
            return self.null_value, NO_DATA
        if self.lost is not None and (kind := self.lost(value, converted)) is not None:
            doc.conversions[self.mapping.target_table, self.column, kind] += 1
        if self.flag or not want_data:  # a flag or a code alone is no reason for a row (see _code_only)
            return converted, DERIVED
        return converted, DATA if meaningful(value if self.calculated else raw) else DERIVED


@dataclass
class RowPlan:
    """One table's rows: per document (single), or per kept contact / address / employment."""

    table: str
    kind: str  # single | contact | address | employment
    columns: list[ColumnPlan]
    keys: tuple[str, ...]
    always: bool
    # One-to-one rows exist once their element yields any value (a flag of an empty attribute is 0);
    # contact children need meaningful data.
    needs: int = DERIVED


@dataclass
class GroupPlan:
    """Rows made by a row-creating type: one per slot (collateral), per type (warranty), ..."""

    table: str
    kind: CreatorType
    arg: str | None
    columns: list[ColumnPlan]
    slot: str  # the column that holds the argument as a number


class CreatorPlan(NamedTuple):
    """A mapping whose value makes a row of its own (a score, an indicator, a history value ...)."""

    mapping: Mapping
    column: ColumnPlan
    kind: CreatorType
    build: RowBuilder
    arg: str | None


@dataclass
class MappedApplication:
    app_id: int
    rows: dict[str, list[dict[str, Any]]]
    con_ids: list[int]
    conversions: Counter = field(default_factory=Counter)

    def row_count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


class CompiledContract:
    """A contract ready to map documents: compile once, map many."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.name = contract.name
        self.app_path = contract.xml_application_path
        self.app_tag = contract.application_tag
        self.rules = {rule.element_type: rule for rule in contract.filter_rules}
        self.contact_rule = self.rules.get(CONTACT)
        self.row_paths = {rule.xml_child_path: kind for kind, rule in self.rules.items()
                          if kind in (CONTACT, ADDRESS, EMPLOYMENT)}
        self.trie = _Trie("")
        self._tags: dict[str, str] = {}
        for mapping in contract.mappings:
            self._want(mapping.xml_path)
        for rule in contract.filter_rules:
            self._want(rule.xml_child_path)
        self._want(self.app_path)
        self.stray_contact_path = self._stray_contacts()
        for mapping in contract.mappings:
            if mapping.expression and "calculated_field" in mapping.transforms:
                for qualifier, _ in referenced_names(mapping.expression):
                    if qualifier:
                        self._want_tag(qualifier)
        self.tables: list[RowPlan] = []
        self.groups: list[GroupPlan] = []
        self.simple_creators: list[CreatorPlan] = []
        self._plan()

    # -- compile: paths ---------------------------------------------------------------------------------
    def _want(self, path: str) -> None:
        parts = [part for part in path.split("/") if part]
        self.trie.add(parts)
        for index, part in enumerate(parts):
            self._tags.setdefault(part.lower(), "/" + "/".join(parts[:index + 1]))

    def _stray_contacts(self) -> str | None:
        """Contacts are also read where some documents put them: directly under CustData (a sibling of
        the application element), with everything the contract reads below them."""
        if self.contact_rule is None:
            return None
        contact_path = self.contact_rule.xml_child_path
        stray = f"{self.app_path.rsplit('/', 1)[0]}/{contact_path.rsplit('/', 1)[-1]}"
        if stray == contact_path:
            return None
        wanted = [m.xml_path for m in self.contract.mappings] + [r.xml_child_path for r in self.contract.filter_rules]
        for path in wanted:
            if path == contact_path or path.startswith(contact_path + "/"):
                self._want(stray + path[len(contact_path):])
        return stray

    def _want_tag(self, qualifier: str) -> None:
        lowered = qualifier.lower()
        if lowered in self._tags or lowered in ("application", "contact"):
            return
        self._want(f"{self.app_path}/{qualifier}")

    # -- compile: locating the element a mapping reads ------------------------------------------------------
    def _rule_for_path(self, path: str) -> str | None:
        return self.row_paths.get(path)

    def _locator(self, mapping: Mapping, row_kind: str) -> Locator:
        path = mapping.xml_path
        scope = mapping.scopes[0] if mapping.scopes else None
        if scope in ("last_valid_pr_contact", "last_valid_sec_contact", "authu_contact"):
            role = {"last_valid_pr_contact": "PR", "last_valid_sec_contact": "SEC", "authu_contact": "AUTHU"}[scope]
            return self._contact_locator(role, path, authorised_user=scope == "authu_contact")
        contact_path = self.contact_rule.xml_child_path if self.contact_rule else None
        if scope == "curr_address_only":
            rel = path[len(contact_path) + 1:] if contact_path and path.startswith(contact_path + "/") else None
            if rel is None or row_kind != CONTACT:
                return lambda doc, row: None
            address_rule = self.rules.get(ADDRESS)
            type_attr = (address_rule.type_attribute or "").lower() if address_rule else ""
            tags = rel.split("/")

            def curr_address(doc: Document, row: Node | None) -> Node | None:
                found = None
                for node in _descend(row, tags):
                    if (node.attrs.get(type_attr) or "").strip() == "CURR":
                        found = node
                return found
            return curr_address
        own_kind = self._rule_for_path(path)
        if own_kind is not None and own_kind == row_kind:
            return lambda doc, row: row
        if row_kind != "single" and contact_path and row_kind == CONTACT and path.startswith(contact_path + "/"):
            tags = path[len(contact_path) + 1:].split("/")
            return lambda doc, row: _last(_descend(row, tags))
        return lambda doc, row: doc.last.get(path)

    def _contact_locator(self, role: str, path: str, authorised_user: bool) -> Locator:
        """``last_valid_*``: the last contact of the role with a con_id; ``authu_contact``: the last contact of
        the role, with or without one (the contract names no con_id condition there)."""
        contact_path = self.contact_rule.xml_child_path if self.contact_rule else ""
        first_curr = not authorised_user

        def contact_of(doc: Document) -> Node | None:
            return (doc.any_by_role if authorised_user else doc.by_role).get(role)
        if path == contact_path:
            return lambda doc, row: contact_of(doc)
        if not path.startswith(contact_path + "/"):
            return lambda doc, row: doc.last.get(path)
        tags = path[len(contact_path) + 1:].split("/")
        address_rule = self.rules.get(ADDRESS)
        is_address = address_rule is not None and path == address_rule.xml_child_path
        type_attr = (address_rule.type_attribute or "").lower() if address_rule else ""

        def locate(doc: Document, row: Node | None) -> Node | None:
            contact = contact_of(doc)
            if contact is None:
                return None
            nodes = _descend(contact, tags)
            if not nodes:
                return None
            if is_address and first_curr:
                # The value is read by attribute: the first CURR address that has it, else the last one.
                return Node(nodes[-1].tag, _ChoiceAttrs(nodes, type_attr))
            return nodes[-1]
        return locate

    # -- compile: value steps ---------------------------------------------------------------------------
    def _steps(self, mapping: Mapping, column_type: str) -> list[Callable[[Any, Node, Document], Any]]:
        steps: list[Callable[[Any, Node, Document], Any]] = []
        bits = self.contract.bit_conversions
        where = (mapping.target_table, mapping.target_column)
        for position, transform in enumerate(mapping.transforms):
            if transform == "calculated_field":
                last = position == len(mapping.transforms) - 1
                steps.append(_calculated(mapping, self, keep_when_null=not last))
            elif transform == "enum":
                steps.append(_enum(self.contract.enum_mappings[mapping.enum_name or mapping.target_column],
                                   keep_unmatched=column_type == "string" and "calculated_field" in mapping.transforms,
                                   where=where))
            elif transform == "char_to_bit":
                steps.append(_bit_lookup(bits.get("char_to_bit", {}), str.upper, where))
            elif transform == "boolean_to_bit":
                steps.append(_bit_lookup(bits.get("boolean_to_bit", {}), str.lower, where))
            elif transform in ("numbers_only", "extract_numeric"):
                steps.append(lambda value, node, doc: None if value is None else digits_only(value))
            elif transform == "extract_date":
                steps.append(_extract_date)
        return steps

    def _column(self, mapping: Mapping, row_kind: str, keys: tuple[str, ...]) -> ColumnPlan:
        convert = converter(mapping.data_type, mapping.data_length)
        default = None
        if mapping.default_value not in (None, ""):
            default = convert(mapping.default_value)
        return ColumnPlan(
            mapping=mapping, column=mapping.target_column, attribute=mapping.xml_attribute.lower(),
            locate=self._locator(mapping, row_kind), steps=self._steps(mapping, mapping.data_type), convert=convert,
            default=default, calculated="calculated_field" in mapping.transforms,
            is_key=mapping.target_column in keys, null_value=None if mapping.nullable else default,
            flag=_code_only(mapping, row_kind), lost=loss(mapping.data_type, mapping.data_length),
        )

    # -- compile: tables --------------------------------------------------------------------------------
    def _row_kind(self, mappings: list[Mapping]) -> str:
        kinds = {self._rule_for_path(m.xml_path) for m in mappings if not m.scopes}
        for kind in (ADDRESS, EMPLOYMENT, CONTACT):
            if kind in kinds:
                return kind
        return "single"

    def _keys(self, table: str, kind: str) -> tuple[str, ...]:
        if kind == CONTACT:
            return ("con_id", "app_id")
        if kind in (ADDRESS, EMPLOYMENT):
            rule = self.rules[kind]
            type_columns = [m.target_column for m in self.contract.mappings
                            if m.target_table == table and m.xml_path == rule.xml_child_path
                            and m.xml_attribute.lower() == (rule.type_attribute or "").lower()]
            return ("con_id", *type_columns[:1])
        return ("app_id",)

    def _plan(self) -> None:
        by_table: dict[str, list[Mapping]] = {}
        groups: dict[tuple[str, str, str | None], list[Mapping]] = {}
        for mapping in self.contract.mappings:
            creator = mapping.creator
            if creator is None:
                by_table.setdefault(mapping.target_table, []).append(mapping)
            elif creator.kind.grouped:
                groups.setdefault((mapping.target_table, creator.name, creator.arg), []).append(mapping)
            else:
                self.simple_creators.append(self._creator_plan(mapping, creator))
        for table in self.contract.table_insertion_order:
            mappings = by_table.get(table)
            if not mappings:
                continue
            kind = self._row_kind(mappings)
            keys = self._keys(table, kind)
            root_id = any(m.xml_attribute == "ID" and m.target_column == "app_id" for m in mappings)
            self.tables.append(RowPlan(table, kind, [self._column(m, kind, keys) for m in mappings], keys,
                                       always=root_id or kind == CONTACT,
                                       needs=DERIVED if kind == "single" else DATA))
        for (table, creator, arg), mappings in groups.items():
            kind = CREATOR_TYPES[creator]
            columns = [self._column(m, "single", kind.mapped_keys) for m in mappings]
            self.groups.append(GroupPlan(table, kind, arg, columns, slot=kind.slot or ""))
        # A column that one slot maps and another does not: NOT NULL ones take the contract's default there.
        self.group_defaults: dict[str, dict[str, Any]] = {}
        for group in self.groups:
            defaults = self.group_defaults.setdefault(group.table, {})
            for column in group.columns:
                if column.null_value is not None:
                    defaults.setdefault(column.column, column.null_value)

    def _creator_plan(self, mapping: Mapping, creator: Creator) -> CreatorPlan:
        build = creator.kind.build
        if build is None:  # unreachable: the contract gives every mapping of a grouped type a column
            raise TypeError(f"{creator.name} is a grouped type: it makes no row of its own")
        return CreatorPlan(mapping, self._column(mapping, "single", ()), creator.kind, build, creator.arg)

    # -- mapping ---------------------------------------------------------------------------------------
    def read(self, root: Any, app_id: int) -> Document:
        """The document's kept nodes; ``root`` is the parsed ``Provenir`` element."""
        nodes: dict[str, list[Node]] = {}
        top = self.trie.children.get(root.tag)
        if top is None:
            raise MappingError(f"the root element is {root.tag!r}, not {next(iter(self.trie.children), '?')!r}")
        _collect(root, top, nodes)
        app_nodes = nodes.get(self.app_path)
        if not app_nodes:
            raise MappingError(f"{self.app_path} is missing")
        last = {path: kept[-1] for path, kept in nodes.items()}
        by_tag = {path.rsplit("/", 1)[-1].lower(): node for path, node in last.items()}
        doc = Document(app_id=app_id, nodes=nodes, app=app_nodes[-1], by_tag=by_tag, last=last)
        self._filter_contacts(doc)
        return doc

    def _filter_contacts(self, doc: Document) -> None:
        rule = self.contact_rule
        if rule is None:
            return
        type_attr = (rule.type_attribute or "ac_role_tp_c").lower()
        priority = {role: index for index, role in enumerate(rule.allowed_types)}
        kept: dict[str, tuple[int, Node]] = {}
        candidates = doc.nodes.get(rule.xml_child_path, [])
        if self.stray_contact_path and self.stray_contact_path in doc.nodes:
            candidates = candidates + doc.nodes[self.stray_contact_path]
        for node in candidates:
            con_id = (node.attrs.get("con_id") or "").strip()
            role = (node.attrs.get(type_attr) or "").strip()
            if role:
                doc.any_by_role[role] = node
                if con_id:
                    doc.by_role[role] = node  # the last contact of each role with a con_id
            if not con_id or role not in priority:
                continue
            if all(_empty(node.attrs.get(attr)) for attr in ("birth_date", "first_name", "last_name", "ssn")):
                continue
            previous = kept.get(con_id)
            if previous is None or priority[role] <= previous[0]:
                kept[con_id] = (priority[role], node)
        doc.contacts = [node for _, node in kept.values()]

    def map(self, root: Any, app_id: int) -> MappedApplication:
        doc = self.read(root, app_id)
        rows: dict[str, list[dict[str, Any]]] = {}
        con_ids: list[int] = []
        for plan in self.tables:
            if plan.kind == "single":
                row = self._row(plan, doc, None)
                if row is not None:
                    row["app_id"] = app_id
                    rows.setdefault(plan.table, []).append(row)
            elif plan.kind == CONTACT:
                for contact in doc.contacts:
                    row = self._row(plan, doc, contact)
                    if row is None:
                        continue
                    row["con_id"] = _con_id(contact)
                    row["app_id"] = app_id
                    con_ids.append(row["con_id"])
                    rows.setdefault(plan.table, []).append(row)
            else:
                self._child_rows(plan, doc, rows)
        self._creator_rows(doc, rows)
        return MappedApplication(app_id, rows, con_ids, doc.conversions)

    def _row(self, plan: RowPlan, doc: Document, row_node: Node | None) -> dict[str, Any] | None:
        row, evidence = _evaluate(plan.columns, doc, row_node, {}, NO_DATA if plan.always else plan.needs)
        return row if plan.always or evidence >= plan.needs else None

    def _child_rows(self, plan: RowPlan, doc: Document, rows: dict[str, list[dict[str, Any]]]) -> None:
        rule = self.rules[plan.kind]
        contact_path = self.contact_rule.xml_child_path if self.contact_rule else ""
        tags = rule.xml_child_path[len(contact_path) + 1:].split("/")
        type_attr = (rule.type_attribute or "").lower()
        allowed = set(rule.allowed_types)
        keyed: dict[tuple, dict[str, Any]] = {}
        for contact in doc.contacts:
            con_id = _con_id(contact)
            for node in _descend(contact, tags):
                if type_attr and (node.attrs.get(type_attr) or "").strip() not in allowed:
                    continue
                row = self._row(plan, doc, node)
                if row is None:
                    continue
                row["con_id"] = con_id
                # Two elements with the same key: the last one wins (the key is the table's primary key).
                keyed[tuple(row.get(key) for key in plan.keys)] = row
        if keyed:
            rows.setdefault(plan.table, []).extend(keyed.values())

    def _creator_rows(self, doc: Document, rows: dict[str, list[dict[str, Any]]]) -> None:
        made = CreatorRows(doc.app_id, doc.conversions)
        for mapping, plan, _, build, arg in self.simple_creators:
            node = plan.locate(doc, None)
            value = None if node is None else node.attrs.get(plan.attribute)
            if node is not None:
                for step in plan.steps:
                    value = step(value, node, doc)
            build(made, mapping, arg, value, plan.convert)
        made.put_exceptions()
        for group in self.groups:
            row, evidence = _evaluate(group.columns, doc, None, dict(self.group_defaults[group.table]), DATA)
            if evidence < DATA:
                continue
            row["app_id"] = doc.app_id
            row[group.slot] = int(group.arg or 0)
            made.put(group.table, (row[group.slot],), row)
        for table, made_rows in made.by_table().items():
            rows.setdefault(table, []).extend(made_rows)


def _evaluate(columns: list[ColumnPlan], doc: Document, row_node: Node | None, row: dict[str, Any], needs: int
              ) -> tuple[dict[str, Any], int]:
    """The row's values, and the strongest evidence of data among its non-key columns (looked for only
    until it reaches ``needs``: then the row is decided)."""
    evidence = NO_DATA
    for column in columns:
        value, found = column.evaluate(doc, row_node, evidence < needs)
        row[column.column] = value
        if found > evidence and not column.is_key:
            evidence = found
    return row, evidence


# -- helpers used by the compiled steps ----------------------------------------------------------------
class _ChoiceAttrs(dict):
    """The attributes of a contact's addresses seen as one element: an attribute reads from the first CURR
    address that has it, else from the last CURR address; only a contact without any CURR address falls back
    to its last address of any type (a former address must not stand in for the current one)."""

    def __init__(self, nodes: list[Node], type_attr: str) -> None:
        super().__init__()
        self._current = [node for node in nodes if (node.attrs.get(type_attr) or "").strip() == "CURR"]
        self._fallback = self._current[-1] if self._current else nodes[-1]

    def get(self, attribute: str, default: Any = None) -> Any:  # type: ignore[override]
        for node in self._current:
            if not _empty(node.attrs.get(attribute)):
                return node.attrs.get(attribute)
        return self._fallback.attrs.get(attribute, default)


def _code_only(mapping: Mapping, row_kind: str) -> bool:
    """A value that alone is no reason for a row: a flag (N, U, an empty attribute as 0) anywhere; in a
    contact's address or employment also an enum-mapped code (an income source type without an amount is
    no employment, and the original writes no row for it)."""
    transforms = set(mapping.transforms)
    if {"char_to_bit", "boolean_to_bit"} & transforms:
        return True
    return row_kind in (ADDRESS, EMPLOYMENT) and "enum" in transforms


def _descend(node: Node | None, tags: Iterable[str]) -> list[Node]:
    current = [node] if node is not None else []
    for tag in tags:
        current = [child for parent in current for child in parent.children.get(tag, ())]
    return current


def _last(nodes: list[Node]) -> Node | None:
    return nodes[-1] if nodes else None


def _con_id(contact: Node) -> int:
    text = (contact.attrs.get("con_id") or "").strip()
    try:
        return int(text)
    except ValueError:
        raise MappingError("a contact's con_id is not an integer") from None


def _calculated(mapping: Mapping, compiled: CompiledContract,
                keep_when_null: bool = False) -> Callable[[Any, Node, Document], Any]:
    """The expression as a step. ``keep_when_null``: in a chain (``calculated_field, enum``) a CASE without a
    match hands the attribute's own value to the next step (the enum then maps the code)."""
    run = mapping.calculation
    if run is None:  # parse_contract compiles the expression of every calculated_field
        raise MappingError(f"{mapping.label}: calculated_field without a compiled expression")
    app_names = {"application", compiled.app_tag.lower()}
    contact_role = compiled.contact_rule.allowed_types[0] if compiled.contact_rule and \
        compiled.contact_rule.allowed_types else "PR"

    def step(value: Any, node: Node, doc: Document) -> Any:
        def scope(qualifier: str | None, attribute: str) -> Any:
            if qualifier is None or qualifier == node.name:
                return node.attrs.get(attribute)
            if qualifier in app_names:
                return doc.app.attrs.get(attribute)
            if qualifier == "contact":
                contact = doc.by_role.get(contact_role)
                return None if contact is None else contact.attrs.get(attribute)
            other = doc.by_tag.get(qualifier)
            return None if other is None else other.attrs.get(attribute)
        result = run(scope)
        if not keep_when_null:
            return result
        if result is None:
            return value
        return _Calculated(result) if isinstance(result, str) else result
    return step


class _Calculated(str):
    """A calculated value handed to the next step of a chain (as opposed to the attribute's own text)."""


def _enum(values: dict[str, Any], keep_unmatched: bool, where: tuple[str, str]
          ) -> Callable[[Any, Node, Document], Any]:
    folded = {str(key).lower(): value for key, value in values.items()}
    fallback = values.get("")

    def step(value: Any, node: Node, doc: Document) -> Any:
        key = "" if value is None else str(value).strip()
        if key in values:
            return values[key]
        found = folded.get(key.lower())
        if found is not None:
            return found
        if keep_unmatched and isinstance(value, _Calculated):
            return str(value)  # a calculated value that is already the target text, not a code
        if key:  # a code the map does not know: the column gets the map's default (or NULL), counted
            doc.conversions[(*where, UNMATCHED)] += 1
        return fallback
    return step


def _bit_lookup(table: dict[str, int], fold: Callable[[str], str], where: tuple[str, str]
                ) -> Callable[[Any, Node, Document], Any]:
    folded = {fold(str(key)): value for key, value in table.items()}

    def step(value: Any, node: Node, doc: Document) -> Any:
        key = fold(str(value).strip()) if value is not None else ""
        if key and key not in folded:  # an unknown word is 0 by contract, counted
            doc.conversions[(*where, UNMATCHED)] += 1
        return folded.get(key, 0) or 0
    return step


def _extract_date(value: Any, node: Node, doc: Document) -> Any:
    if value is None:
        return None
    text = str(value).strip()
    moment = parse_datetime(text)
    if moment is None and " " in text:
        moment = parse_datetime(text.split(" ", 1)[0])
    return moment
