"""The extraction core: one raw ``app_XML`` value in, the reduced Provenir document (or a skip reason) out.

The reduced document keeps the ``Provenir`` root and its ``Request`` with all their attributes in source
order, and the ``CustData`` subtree unchanged (same C14N); everything else (Reports, Rules, Journals...)
is dropped. Nothing here touches a database, so it is cheap to test and to benchmark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

MALFORMED = "malformed"
NO_CUSTDATA = "no_custdata"
EMPTY = "empty"
ID_MISMATCH = "id_mismatch"
SKIP_REASONS = (EMPTY, MALFORMED, NO_CUSTDATA)

ROOT_TAG = "Provenir"
# An XML declaration at the start of a str value: lxml refuses str input that declares an encoding,
# and the encoding it names is meaningless once the text is already decoded.
_STR_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_BOM = "\ufeff"


def hardened_parser() -> etree.XMLParser:
    """No entity expansion, no DTD, no network; very large documents allowed.

    A parser must not be shared between threads: each thread calls this once."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=True,
        remove_blank_text=False,
    )


@dataclass(frozen=True, slots=True)
class Reduced:
    """The outcome for one row: ``xml`` is the reduced document, or ``None`` with a ``skip_reason``."""

    app_id: int
    xml: str | None = None
    skip_reason: str | None = None
    id_mismatch: bool = False


def _to_parser_input(raw: str | bytes | bytearray | memoryview) -> bytes | str:
    """Bytes go to lxml untouched (it reads the BOM and the declared encoding itself); a str loses its BOM
    and any declaration."""
    if isinstance(raw, (bytearray, memoryview)):
        return bytes(raw)
    if isinstance(raw, bytes):
        return raw
    text = raw[1:] if raw.startswith(_BOM) else raw
    if text.lstrip().startswith("<?xml"):
        text = _STR_DECLARATION.sub("", text, count=1)
    return text


def _local_name(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    """The first child element with this local name (namespaced or not)."""
    for child in parent.iterchildren(tag=etree.Element):
        if _local_name(child.tag) == name:
            return child
    return None


def parse(raw: str | bytes, parser: etree.XMLParser) -> etree._Element | None:
    """The document's root element, or None when it is not well-formed XML."""
    try:
        return etree.fromstring(_to_parser_input(raw), parser)
    except (etree.XMLSyntaxError, ValueError):
        return None


def reduce_root(root: etree._Element) -> tuple[str, str | None] | None:
    """(reduced XML, Request/@ID) from a parsed document, or None when there is no Request/CustData."""
    if _local_name(root.tag) != ROOT_TAG:
        return None
    request = _child(root, "Request")
    custdata = _child(request, "CustData") if request is not None else None
    if custdata is None:
        return None
    reduced_root = etree.Element(root.tag, dict(root.attrib), nsmap=root.nsmap)
    reduced_request = etree.SubElement(reduced_root, request.tag, dict(request.attrib), nsmap=request.nsmap)
    # Moving the subtree is cheap and keeps it byte-for-byte; its tail (whitespace before the next
    # sibling) belongs to the dropped part of the document.
    reduced_request.append(custdata)
    custdata.tail = None
    return etree.tostring(reduced_root, encoding="unicode"), request.get("ID")


def reduce_document(app_id: int, raw: str | bytes | None, parser: etree.XMLParser) -> Reduced:
    """Reduce one row's ``app_XML``. Never raises for bad content: it returns a skip reason instead."""
    if raw is None or len(raw) == 0 or (isinstance(raw, str) and not raw.strip(_BOM + " \t\r\n")):
        return Reduced(app_id, skip_reason=EMPTY)
    root = parse(raw, parser)
    if root is None:
        return Reduced(app_id, skip_reason=MALFORMED)
    reduced = reduce_root(root)
    if reduced is None:
        return Reduced(app_id, skip_reason=NO_CUSTDATA)
    xml, request_id = reduced
    return Reduced(app_id, xml=xml, id_mismatch=(request_id or "").strip() != str(app_id))


def custdata_c14n(document: str | bytes, parser: etree.XMLParser | None = None) -> bytes | None:
    """Canonical form (C14N) of the document's ``Request/CustData``; for tests and checks."""
    root = parse(document, parser or hardened_parser())
    if root is None:
        return None
    request = _child(root, "Request")
    custdata = _child(request, "CustData") if request is not None else None
    if custdata is None:
        return None
    return etree.tostring(custdata, method="c14n", with_tail=False)
