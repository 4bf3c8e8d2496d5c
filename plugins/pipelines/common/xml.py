"""The one way the project reads XML: ``parse_xml(data)`` returns the document's root element, or raises
``RejectedXml`` whose ``reason`` is a counted skip (``empty``, ``malformed``, ``dtd``).

Why it is strict:
- **No DTD at all.** A document that declares a DOCTYPE (and so possibly entities) is rejected before
  anything uses its tree. Entity references left unexpanded point into the document's DTD; a subtree moved
  out of such a document keeps those pointers after the DTD is freed, which ends the process (SIGSEGV).
  Expanding entities instead invites billion-laughs documents and external reads. Provenir documents never
  carry a DTD, so one that does is an odd row to look at, not data to stage.
- **Nothing is ever fetched**: no external DTD or entity is loaded, no network (``load_dtd=False``,
  ``resolve_entities=False``, ``no_network=True``), so a reference to ``file:///etc/passwd`` stays a
  reference and the document is rejected with it.
- **Any bytes are fine.** Bytes go to libxml2 untouched (it reads the BOM and the declared encoding
  itself); a ``str`` loses its BOM and XML declaration, whose encoding means nothing once text is decoded.
  Invalid UTF-8/UTF-16, lone surrogates, a BOM that contradicts the declaration: ``malformed``.
- **Large documents are allowed** (``huge_tree``); libxml2 still bounds entity amplification and depth.

Every XML-parsing path of the project goes through here, and ``tests/unit/common/test_xml_fuzz.py`` runs
each one over generated hostile documents in a child process.
"""

from __future__ import annotations

import re
import threading

from lxml import etree

EMPTY = "empty"
MALFORMED = "malformed"
DTD = "dtd"
#: Every reason ``parse_xml`` may give, in the order they are checked.
REJECT_REASONS = (EMPTY, MALFORMED, DTD)

_BOM = "\ufeff"
# Blank values, matched from the start without copying a large document (strip() would copy it).
_BLANK_STR = re.compile("[\ufeff \t\r\n]*")
_BLANK_BYTES = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*")
# An XML declaration at the start of a str: lxml refuses str input that declares an encoding.
_STR_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# A DOCTYPE in the prolog (after a BOM, an XML declaration, comments): a document libxml2 refuses because of its
# DTD (an external entity inside an attribute) is rejected for the DTD, like every other DTD document.
_DOCTYPE_STR = re.compile(r"\ufeff?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<!DOCTYPE", re.DOTALL)
_DOCTYPE_BYTES = re.compile(rb"(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<!DOCTYPE", re.DOTALL)
# One parser per thread: an lxml parser must not be used by two threads at once.
_local = threading.local()


class RejectedXml(ValueError):
    """The input is not a document the project reads; ``reason`` is one of ``REJECT_REASONS``.

    The message names the reason only, never content: it may end up in logs and alerts."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"XML rejected: {reason}")
        self.reason = reason


def _parser() -> etree.XMLParser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=True,
            remove_blank_text=False,
        )
    return parser


def is_blank(data: str | bytes | None) -> bool:
    """None, nothing, or only a BOM and white space."""
    if data is None:
        return True
    return (_BLANK_STR if isinstance(data, str) else _BLANK_BYTES).fullmatch(data) is not None


def declares_doctype(data: str | bytes) -> bool:
    """Whether the document's prolog declares a DOCTYPE (matched from the start, nothing copied)."""
    return (_DOCTYPE_STR if isinstance(data, str) else _DOCTYPE_BYTES).match(data) is not None


def parser_input(data: str | bytes | bytearray | memoryview) -> bytes | str:
    """Bytes untouched; a str without its BOM and XML declaration."""
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, bytes):
        return data
    text = data.removeprefix(_BOM)
    if text.lstrip().startswith("<?xml"):
        text = _STR_DECLARATION.sub("", text, count=1)
    return text


def parse_xml(data: str | bytes | bytearray | memoryview | None) -> etree._Element:
    """The root element of a well-formed document without a DTD; ``RejectedXml`` for anything else.

    Never raises anything but ``RejectedXml`` for bad content, whatever the input."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if is_blank(data):
        raise RejectedXml(EMPTY)
    try:
        root = etree.fromstring(parser_input(data), _parser())
    except (etree.LxmlError, ValueError):  # ValueError: e.g. a str holding lone surrogates or NUL
        raise RejectedXml(DTD if declares_doctype(data) else MALFORMED) from None
    if root is None:
        raise RejectedXml(MALFORMED)
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise RejectedXml(DTD)
    return root
