"""The hardened entry point every XML-parsing path uses: what it reads, what it rejects and why.

Inputs that once ended a process run in a child process (``tests.support.isolated``), so a regression
fails these tests instead of killing pytest."""

from __future__ import annotations

import threading

import pytest

from pipelines.common.xml import DTD, EMPTY, MALFORMED, RejectedXml, parse_xml
from tests.support.isolated import IsolatedRunner
from tests.support.xml_fuzz import CANARY, Traps

BODY = '<Provenir><Request ID="1"><CustData><application n="x">{}</application></CustData></Request></Provenir>'


def rejection(data) -> str | None:
    try:
        parse_xml(data)
    except RejectedXml as rejected:
        return rejected.reason
    return None


@pytest.fixture(scope="module")
def traps(tmp_path_factory) -> Traps:
    return Traps.create(tmp_path_factory.mktemp("xml-traps"))


@pytest.fixture(scope="module")
def isolated():
    with IsolatedRunner("tests.support.xml_fuzz:parse_outcome", timeout_s=60) as runner:
        yield runner


@pytest.mark.parametrize("data", [
    BODY.format("text").encode(),
    BODY.format("text"),
    "\ufeff" + BODY.format("text"),
    '<?xml version="1.0" encoding="utf-16"?>\r\n' + BODY.format("x"),  # NVARCHAR text declaring UTF-16
    b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>' + BODY.format("x").encode(),
    BODY.format("x").encode("utf-16"),
    ('<?xml version="1.0" encoding="UTF-16"?>' + BODY.format("x")).encode("utf-16-le"),
    bytearray(BODY.format("x").encode()),
    memoryview(BODY.format("x").encode()),
    BODY.format("&amp;&lt;&#65;<![CDATA[<raw>]]><!-- c --><?pi x?>"),
    '<Provenir xmlns="urn:provenir"><Request ID="1"><CustData/></Request></Provenir>',
])
def test_well_formed_documents_without_dtd_are_read(data):
    root = parse_xml(data)

    assert root.tag.endswith("Provenir")


@pytest.mark.parametrize(("data", "reason"), [
    (None, EMPTY), ("", EMPTY), (b"", EMPTY), ("\ufeff \r\n", EMPTY), (b"\xef\xbb\xbf  \n", EMPTY),
    (b"<Provenir><Request>", MALFORMED), ("not xml", MALFORMED), (b"\xff\xfe\x00", MALFORMED),
    (BODY.format("&undeclared;"), MALFORMED),
    (BODY.format("\ud800").replace("x", "y"), MALFORMED),  # a lone surrogate in a str
    (BODY.format("bad \xff byte").encode("latin-1"), MALFORMED),  # invalid UTF-8
    (BODY.format("\x00"), MALFORMED),
    ("<!DOCTYPE Provenir>" + BODY.format(""), DTD),
    ('<!DOCTYPE Provenir SYSTEM "http://127.0.0.1:9/x.dtd">' + BODY.format(""), DTD),
    ('<!DOCTYPE Provenir [<!ENTITY a "aaaaaaaaaa">]>' + BODY.format("&a;"), DTD),
    ('<!DOCTYPE Provenir [<!ELEMENT Provenir ANY>]>' + BODY.format(""), DTD),
])
def test_bad_inputs_are_rejected_with_their_reason(data, reason):
    assert rejection(data) == reason


def test_the_reproducer_of_the_crash_is_a_dtd_skip(isolated):
    """A DTD whose nested entities an attribute under CustData uses: this once ended the process."""
    document = ('<!DOCTYPE Provenir [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
                '<Provenir><Request ID="1"><CustData><application note="&b;"/></CustData></Request></Provenir>')

    assert isolated.run([document.encode(), document]) == [("ok", DTD), ("ok", DTD)]


def test_external_entities_are_never_read(isolated, traps):
    """A FIFO nobody writes blocks whoever opens it (the runner would report a hang), and the canary
    file's content never appears: nothing is fetched, the document is rejected."""
    documents = [
        f'<!DOCTYPE Provenir [<!ENTITY x SYSTEM "{traps.canary_file.as_uri()}">]>' + BODY.format("&x;"),
        f'<!DOCTYPE Provenir [<!ENTITY x SYSTEM "{traps.fifo.as_uri()}">]>' + BODY.format("&x;"),
        f'<!DOCTYPE Provenir [<!ENTITY % p SYSTEM "{traps.fifo.as_uri()}"> %p;]>' + BODY.format(""),
        f'<!DOCTYPE Provenir SYSTEM "{traps.fifo.as_uri()}">' + BODY.format(""),
        f'<!DOCTYPE Provenir [<!ENTITY x SYSTEM "{traps.url}">]>' + BODY.format("&x;"),
    ]

    assert isolated.run(documents) == [("ok", DTD)] * len(documents)
    assert CANARY not in "".join(documents)  # only referenced, so a leak could only come from reading


def test_billion_laughs_is_rejected_without_expanding(isolated):
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    document = f'<!DOCTYPE Provenir [<!ENTITY l0 "ha">{levels}]>' + BODY.format("&l9;")

    assert isolated.run([document, document.replace(">&l9;<", ' note="&l9;"><')]) == [
        ("ok", DTD), ("ok", DTD)]  # libxml2 refuses the amplification; the reason is the DOCTYPE all the same


def test_each_thread_parses_with_its_own_parser():
    documents = [BODY.format(f"thread {i}" * 200) for i in range(8)]
    results: dict[int, str] = {}

    def parse(index: int) -> None:
        for _ in range(50):
            results[index] = parse_xml(documents[index]).findtext("Request/CustData/application")

    threads = [threading.Thread(target=parse, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == {i: f"thread {i}" * 200 for i in range(8)}
