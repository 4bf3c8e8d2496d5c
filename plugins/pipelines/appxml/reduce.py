"""The reduction core: one raw ``app_XML`` value in, the reduced Provenir document (or a skip reason) out.

The reduced document keeps the ``Provenir`` root and its ``Request`` with all their attributes in source
order, and the ``CustData`` subtree unchanged (same C14N); everything else (Reports, Rules, Journals...)
is dropped. Documents are read only through ``pipelines.common.xml.parse_xml`` (no DTD, nothing fetched),
so no value can end the process. Nothing here touches a database, so it is cheap to test and to benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from pipelines.common.xml import DTD, EMPTY, MALFORMED, RejectedXml, parse_xml

NO_CUSTDATA = "no_custdata"
ID_MISMATCH = "id_mismatch"
SKIP_REASONS = (EMPTY, MALFORMED, DTD, NO_CUSTDATA)

ROOT_TAG = "Provenir"


@dataclass(frozen=True, slots=True)
class Reduced:
    """The outcome for one row: ``xml`` is the reduced document, or ``None`` with a ``skip_reason``."""

    app_id: int
    xml: str | None = None
    skip_reason: str | None = None
    id_mismatch: bool = False


def _local_name(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    """The first child element with this local name (namespaced or not)."""
    for child in parent.iterchildren(tag=etree.Element):
        if _local_name(child.tag) == name:
            return child
    return None


def find_custdata(root: etree._Element) -> tuple[etree._Element, etree._Element] | None:
    """``(Request, CustData)`` of a Provenir document, or None when it has no ``/Provenir/Request/CustData``."""
    if _local_name(root.tag) != ROOT_TAG:
        return None
    request = _child(root, "Request")
    custdata = _child(request, "CustData") if request is not None else None
    return None if custdata is None else (request, custdata)


def reduce_root(root: etree._Element) -> tuple[str, str | None] | None:
    """(reduced XML, Request/@ID) from a parsed document, or None when there is no Request/CustData."""
    found = find_custdata(root)
    if found is None:
        return None
    request, custdata = found
    reduced_root = etree.Element(root.tag, dict(root.attrib), nsmap=root.nsmap)
    reduced_request = etree.SubElement(reduced_root, request.tag, dict(request.attrib), nsmap=request.nsmap)
    # Moving the subtree is cheap and keeps it byte-for-byte (safe: parse_xml admits no DTD, so nothing in
    # it refers back to the source document); its tail belongs to the dropped part of the document.
    reduced_request.append(custdata)
    custdata.tail = None
    return etree.tostring(reduced_root, encoding="unicode"), request.get("ID")


def reduce_document(app_id: int, raw: str | bytes | None) -> Reduced:
    """Reduce one row's ``app_XML``. Never raises for bad content: it returns a skip reason instead."""
    try:
        root = parse_xml(raw)
    except RejectedXml as rejected:
        return Reduced(app_id, skip_reason=rejected.reason)
    reduced = reduce_root(root)
    if reduced is None:
        return Reduced(app_id, skip_reason=NO_CUSTDATA)
    xml, request_id = reduced
    return Reduced(app_id, xml=xml, id_mismatch=(request_id or "").strip() != str(app_id))
