"""Hostile XML for the fuzz tests of every XML-parsing path, and the checks each path must pass.

``hostile_documents(traps)`` is a hypothesis strategy of ``bytes`` or ``str`` values shaped like Provenir
documents and then broken in the ways that matter: DTDs (bare, SYSTEM, internal subsets), internal and
external entities (a local file, a FIFO that blocks whoever opens it, a closed local port), nested entity
expansion (billion laughs), parameter entities, entity references in text and in attributes under
``CustData``, processing instructions, comments, CDATA, namespaces (a default namespace on ``Provenir``,
prefixes, undeclared prefixes), deep nesting, huge attributes, XML declarations naming any encoding,
UTF-8/UTF-16/UTF-32 with or without a BOM that may disagree with the declaration, invalid bytes, lone
surrogates, truncation, and plain garbage.

An ``*_outcome`` function is what a child process runs on one input (see ``tests.support.isolated``): it
returns the skip reason, or what was produced; any exception it lets out is a finding. A new XML-parsing
path adds its outcome function here and its name to ``FUZZ_TARGETS`` in ``tests/unit/common/test_xml_fuzz.py``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from hypothesis import strategies as st

#: What the local file behind external entities holds: it must never appear in anything produced.
CANARY = "CANARY-5e1f-never-read"


@dataclass(frozen=True)
class Traps:
    """Local targets of external references: a file holding CANARY, a FIFO nobody writes (a parser that
    opens it blocks, which the runner reports as a hang), a URL on a closed local port."""

    canary_file: Path
    fifo: Path
    url: str = "http://127.0.0.1:9/provenir.dtd"

    @classmethod
    def create(cls, folder: Path) -> Traps:
        canary, fifo = folder / "canary.txt", folder / "blocking.fifo"
        canary.write_text(CANARY)
        if not fifo.exists():
            os.mkfifo(fifo)
        return cls(canary, fifo)


# -- outcome functions (run in the child) ------------------------------------------------------------

def parse_outcome(data: bytes | str) -> str:
    """``pipelines.common.xml.parse_xml``: a root without DTD, serialisable, or a known skip reason."""
    from lxml import etree

    from pipelines.common.xml import REJECT_REASONS, RejectedXml, parse_xml

    try:
        root = parse_xml(data)
    except RejectedXml as rejected:
        reason = rejected.reason
    else:
        reason = None
    if reason is not None:
        assert reason in REJECT_REASONS, reason
        return reason
    assert root.getroottree().docinfo.internalDTD is None
    text = etree.tostring(root, encoding="unicode")
    assert CANARY not in text
    return "parsed"


def reduce_outcome(data: bytes | str) -> str:
    """``pipelines.appxml.reduce.reduce_document``: a skip reason, or a staged document that the same
    entry point reads again (never one that only made sense with a DTD) and that holds nothing read."""
    from pipelines.appxml.reduce import SKIP_REASONS, reduce_document
    from pipelines.common.xml import parse_xml

    result = reduce_document(1, data)
    if result.xml is None:
        assert result.skip_reason in SKIP_REASONS, result.skip_reason
        return result.skip_reason
    assert CANARY not in result.xml
    parse_xml(result.xml)  # raises RejectedXml (a finding) if the staged document cannot be read again
    return "staged"


@cache
def _mapping_router():
    from pipelines.common.paths import config_path
    from pipelines.xml_mapping.config import load_contracts
    from pipelines.xml_mapping.documents import Router

    return Router(load_contracts([config_path(f"xml_mapping/example_{p}.json") for p in ("cc", "rl")]))


def map_outcome(data: bytes | str) -> str:
    """``pipelines.xml_mapping``'s path (validate, parse with ``common.xml``, route, map) with the example
    contracts: a failure stage, or ``mapped``; anything raised is a finding."""
    from pipelines.xml_mapping.documents import Failure

    result = _mapping_router().map(1, data)
    if isinstance(result, Failure):
        assert result.stage in {"validation", "parsing", "mapping"}, result.stage
        return result.stage
    return "mapped"


# -- the strategies -----------------------------------------------------------------------------------
# Each document is drawn either "clean" (well-formed apart from the hostile constructs themselves, so it
# reaches the DTD check and the reduction) or "damaged" (anything goes), so both paths are exercised.

_PREDEFINED_REFS = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#65;", "&#x1F600;"]
_BAD_REFS = ["&undefined;", "&#0;", "&#xD800;", "&#x110000;", "&unparsed;", "&", "&#;"]
_CLEAN_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
_SURROGATES = st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2)


def _text(clean: bool, refs: list[str]) -> st.SearchStrategy[str]:
    safe = st.text(_CLEAN_CHARS, max_size=30)
    pieces = [
        safe.map(escape),
        st.sampled_from(refs),
        safe.map(lambda text: f"<![CDATA[{text.replace(']]>', '')}]]>"),
        safe.map(lambda text: f"<!--{text.replace('-', '')}-->"),
        st.sampled_from(["<?target data?>", "<?xml-stylesheet href='file:///etc/passwd'?>", "<?pi ?>"]),
    ]
    if not clean:
        pieces += [st.text(max_size=30), st.sampled_from(_BAD_REFS), _SURROGATES,
                   st.sampled_from(["]]>", "<![CDATA[", "<!--a--b-->", "<??>", "<?xml version='1.0'?>"])]
    return st.one_of(*pieces)


def _attributes(clean: bool, refs: list[str]) -> st.SearchStrategy[str]:
    values = [st.text(_CLEAN_CHARS, max_size=30).map(quoteattr), st.text(_CLEAN_CHARS, max_size=30).map(quoteattr),
              st.sampled_from(refs).map(lambda ref: f'"{ref}"'),
              st.sampled_from([20_000, 1_100_000]).map(lambda n: '"' + "x" * n + '"')]  # a huge attribute
    names = ["note", "ID", "p:attr", "xml:lang"]
    if not clean:
        values += [st.text(max_size=20).map(lambda text: f'"{text}"'), st.sampled_from(_BAD_REFS).map(repr)]
        names += ["x:undeclared", "xmlns:xml", "xmlns:q", "1bad"]
    attribute = st.tuples(st.sampled_from(names), st.one_of(*values))
    return st.lists(attribute, max_size=3, unique_by=lambda pair: pair[0]).map(
        lambda pairs: "".join(f" {name}={value}" for name, value in pairs))


def _content(clean: bool, refs: list[str]) -> st.SearchStrategy[str]:
    names = ["application", "IL_application", "queues", "a", "p:item", "CustData", "Request", "Provenir"]
    if not clean:
        names += ["x:undeclared", "1bad"]

    def element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.builds(lambda name, attrs, body: f"<{name}{attrs}>{''.join(body)}</{name}>",
                         st.sampled_from(names), _attributes(clean, refs), st.lists(children, max_size=4))

    deep = st.builds(lambda depth, name, ref: f"<{name}>" * depth + ref + f"</{name}>" * depth,
                     st.sampled_from([50, 500, 2_100] if clean else [2_100, 10_000]),
                     st.sampled_from(["d", "p:d"]), st.sampled_from(refs))
    nested = st.recursive(_text(clean, refs), element, max_leaves=10)
    return st.one_of(nested, nested, nested, deep)


def _laughs(levels: int) -> str:
    chain = ['<!ENTITY l0 "ha">'] + [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, levels + 1)]
    return "".join(chain) + f'<!ENTITY laughs "&l{levels};">'


def _entity_declarations(traps: Traps) -> dict[str, str]:
    """Entity name -> its declaration (names starting with % are parameter entities, never referenced)."""
    return {
        "a": '<!ENTITY a "aaaaaaaaaa">',
        "b": '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">',
        "c": "<!ENTITY c \"<application note='x'>markup in an entity</application>\">",
        "ext": f'<!ENTITY ext SYSTEM "{traps.canary_file.as_uri()}">',
        "fifo": f'<!ENTITY fifo SYSTEM "{traps.fifo.as_uri()}">',
        "net": f'<!ENTITY net SYSTEM "{traps.url}">',
        "laughs": _laughs(9),
        "%pe": f'<!ENTITY % pe SYSTEM "{traps.canary_file.as_uri()}"> %pe;',
        "%inner": "<!ENTITY % inner \"<!ENTITY inner 'via a parameter entity'>\"> %inner;",
        "%fifo": f'<!ENTITY % pfifo SYSTEM "{traps.fifo.as_uri()}"> %pfifo;',
        "%attlist": '<!ATTLIST application note CDATA "&a;"><!ENTITY a "aaaaaaaaaa">',
        "%element": "<!ELEMENT Provenir ANY><!-- in the subset --><?pi in-subset?>",
    }


@st.composite
def _doctype(draw: st.DrawFn, traps: Traps, root: str) -> tuple[str, list[str]]:
    """A DOCTYPE (or none) and the general entities it declares."""
    kind = draw(st.sampled_from(["none", "none", "none", "bare", "system", "public", "internal", "internal"]))
    if kind == "none":
        return "", []
    if kind == "bare":
        return f"<!DOCTYPE {root}>", []
    if kind == "system":
        return f'<!DOCTYPE {root} SYSTEM "{draw(st.sampled_from([traps.canary_file.as_uri(), traps.url]))}">', []
    if kind == "public":
        return f'<!DOCTYPE {root} PUBLIC "-//Provenir//DTD//EN" "{traps.url}">', []
    declarations = _entity_declarations(traps)
    chosen = draw(st.lists(st.sampled_from(sorted(declarations)), min_size=1, max_size=4, unique=True))
    subset = "".join(declarations[name] for name in chosen)
    return f"<!DOCTYPE {root} [{subset}]>", [f"&{name};" for name in chosen if not name.startswith("%")]


_DECLARATIONS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-16-le": "UTF-16LE",
                 "utf-16-be": "UTF-16BE", "utf-32": "UTF-32", "latin-1": "ISO-8859-1"}
_MUTATIONS = [b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x00", b"\xef\xbb\xbf", b"\x80",
              b"\xf4\x90\x80\x80"]


@st.composite
def _provenir(draw: st.DrawFn, traps: Traps) -> bytes | str:
    clean = draw(st.booleans())
    root, request, custdata = draw(st.sampled_from([
        ("Provenir", "Request", "CustData"),
        ('Provenir xmlns="urn:provenir"', "Request", "CustData"),
        ('p:Provenir xmlns:p="urn:p"', "p:Request", "p:CustData"),
        ('Provenir xmlns:p="urn:p"', "Request", "p:CustData"),
        ('Provenir xmlns="urn:provenir" xmlns:p="urn:p"', "Request", "CustData"),
    ] + ([] if clean else [("x:Provenir", "Request", "CustData")])))
    root_name = root.split()[0]
    doctype, declared = draw(_doctype(traps, root_name))
    refs = declared + _PREDEFINED_REFS
    # The declared entities are used where they hurt most: in attributes and text under CustData.
    application = draw(st.sampled_from([f'<application note="{ref}"/>' for ref in declared] * 2
                                       + [f"<application>{ref}</application>" for ref in declared]
                                       + ["<application/>"]))
    body = "".join(draw(st.lists(_content(clean, refs), max_size=3)))
    prolog = "".join(draw(st.lists(st.sampled_from(["<!-- c -->", "<?pi x?>", "\n"]), max_size=2)))
    if 'xmlns:p="' not in root:
        root += ' xmlns:p="urn:p"'  # the p: prefix of generated content is declared on clean documents
    document = (f"{prolog}{doctype}<{root}{draw(_attributes(clean, refs))}><{request} ID=\"1\">"
                f"<{custdata}>{application}{body}</{custdata}>{draw(st.sampled_from(['', '<Rules/>']))}"
                f"</{request}></{root_name}>")
    if not clean:
        document += draw(st.sampled_from(["", "<!-- trailing -->", "<second/>", "&a;", "<"]))
    return draw(_encoded(document, clean))


@st.composite
def _encoded(draw: st.DrawFn, document: str, clean: bool) -> bytes | str:
    form = draw(st.sampled_from(["str", "str-bom", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
                                 "utf-32", "latin-1"]))
    declared = _DECLARATIONS.get(form)
    if not clean or form.startswith("str"):  # a str's declaration is dropped; damaged ones may lie
        declared = draw(st.sampled_from([None, "UTF-8", "utf-16", "UTF-32", "ISO-8859-1", "EBCDIC-US", "no-such"]))
    if declared or draw(st.booleans()) is False:
        document = (f'<?xml version="1.0" encoding="{declared}"?>' if declared else '<?xml version="1.0"?>') + document
    if form == "str":
        return document
    if form == "str-bom":
        return "\ufeff" + document
    # surrogatepass: lone surrogates become the invalid byte sequences a broken writer would produce.
    data = document.encode(form, "surrogatepass" if form.startswith("utf") else "replace")
    if clean:
        return data
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from(_MUTATIONS) | st.binary(min_size=1, max_size=4)) + data[at:]
    if draw(st.booleans()):  # truncated, possibly mid-character
        data = data[:draw(st.integers(0, len(data)))]
    return data


def hostile_documents(traps: Traps) -> st.SearchStrategy[bytes | str]:
    """One hostile input: a Provenir-shaped document (clean or damaged) in some encoding, or garbage."""
    garbage = st.one_of(st.binary(max_size=300), st.text(max_size=300), st.just(b"\xef\xbb\xbf"), st.just(""))
    return st.one_of(_provenir(traps), _provenir(traps), _provenir(traps), garbage)
