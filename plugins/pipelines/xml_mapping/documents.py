"""From a staged ``app_XML`` value to a mapped application, or a failure ``"<stage>: <message>"``.

Parsing goes through the project's one XML entry point, ``pipelines.common.xml.parse_xml``: no DTD loading, no
entity expansion, no network, and a document that declares a DOCTYPE is refused (a ``validation`` failure,
never a crashed worker). The product is read from the document (``CustData/application``: credit card,
``CustData/IL_application``: recreational lending); a failure message names ids and attribute names only,
never document content.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from pipelines.common.xml import DTD, EMPTY, RejectedXml, parse_xml
from pipelines.xml_mapping.mapper import CompiledContract, MappedApplication, MappingError

VALIDATION, PARSING, MAPPING, INSERTION = "validation", "parsing", "mapping", "insertion"
MAX_REASON = 500
_REJECTED = {
    EMPTY: (VALIDATION, "the document is empty"),
    DTD: (VALIDATION, "the document declares a DOCTYPE or entities (refused)"),
}


@dataclass(frozen=True, slots=True)
class Failure:
    app_id: int
    stage: str
    message: str

    @property
    def reason(self) -> str:
        return reason(self.stage, self.message)


def reason(stage: str, message: str) -> str:
    """``"<stage>: <message>"`` cut to the processing_log column."""
    return f"{stage}: {message}"[:MAX_REASON]


def _child(element: etree._Element, tag: str) -> etree._Element | None:
    for child in element:
        if child.tag == tag:
            return child
    return None


class Router:
    """Maps documents with the contract of their product."""

    def __init__(self, contracts: list[CompiledContract]) -> None:
        self.by_tag = {contract.app_tag: contract for contract in contracts}

    def map(self, app_id: int, raw: str | bytes | None) -> MappedApplication | Failure:
        try:
            root = parse_xml(raw)
        except RejectedXml as exc:
            stage, message = _REJECTED.get(exc.reason, (PARSING, "the document is not well-formed XML"))
            return Failure(app_id, stage, message)
        return self.map_root(app_id, root)

    def map_root(self, app_id: int, root: etree._Element) -> MappedApplication | Failure:
        request = _child(root, "Request") if root.tag == "Provenir" else None
        if request is None:
            return Failure(app_id, VALIDATION, "no /Provenir/Request element")
        request_id = (request.get("ID") or "").strip()
        if request_id != str(app_id):
            return Failure(app_id, VALIDATION, f"Request/@ID {request_id[:20] or '(none)'} does not match "
                                               f"app_id {app_id}")
        custdata = _child(request, "CustData")
        if custdata is None:
            return Failure(app_id, VALIDATION, "no /Provenir/Request/CustData element")
        contract = next((self.by_tag[child.tag] for child in custdata if child.tag in self.by_tag), None)
        if contract is None:
            found = next((child.tag for child in custdata if isinstance(child.tag, str)), None)
            return Failure(app_id, VALIDATION, f"unknown product: no contract for CustData/{found or '(empty)'} "
                                               f"(contracts for: {', '.join(sorted(self.by_tag))})")
        try:
            return contract.map(root, app_id)
        except MappingError as exc:
            return Failure(app_id, MAPPING, str(exc))
        except (ValueError, ArithmeticError, TypeError) as exc:  # a value no converter foresaw
            return Failure(app_id, MAPPING, f"{type(exc).__name__} in contract {contract.name}")
