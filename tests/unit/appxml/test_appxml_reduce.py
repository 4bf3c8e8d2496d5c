"""The reduction core on generated documents, on hostile ones, and on every shared sample when it is
checked out."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from lxml import etree

from devtools.appxml.generator import provenir_document, synthetic_corpus
from devtools.appxml.seed import corpus_app_id, corpus_files
from pipelines.appxml.reduce import DTD, EMPTY, MALFORMED, NO_CUSTDATA, reduce_document
from pipelines.common.xml import parse_xml
from tests.support.appxml_checks import custdata_c14n
from tests.support.isolated import IsolatedRunner

SHARED_CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus" / "provenir"


def doc(app_id: int = 42, **options) -> bytes:
    return provenir_document(app_id, random.Random(app_id), target_bytes=2_000, **options)


def reduced_root(xml: str) -> etree._Element:
    return etree.fromstring(xml.encode())


def test_reduced_document_keeps_root_request_and_custdata_only():
    result = reduce_document(42, doc(product="rl"))

    root = reduced_root(result.xml)
    assert result.skip_reason is None
    assert not result.id_mismatch
    assert root.tag == "Provenir"
    assert [child.tag for child in root] == ["Request"]
    assert [child.tag for child in root[0]] == ["CustData"]
    assert root[0][0][0].tag == "IL_application"
    assert custdata_c14n(result.xml) == custdata_c14n(doc(product="rl"))


def test_every_root_and_request_attribute_is_kept_in_source_order():
    source = (b'<Provenir zeta="1" alpha="" Extra_RL="x &amp; y" ResponseCode="true">'
              b'<Request Z="9" ID="7" a="&lt;b&gt;"><CustData><application/></CustData><Rules/></Request></Provenir>')

    root = reduced_root(reduce_document(7, source).xml)

    assert list(root.attrib.items()) == [("zeta", "1"), ("alpha", ""), ("Extra_RL", "x & y"),
                                         ("ResponseCode", "true")]
    assert list(root[0].attrib.items()) == [("Z", "9"), ("ID", "7"), ("a", "<b>")]


@pytest.mark.parametrize("encode", [
    pytest.param(lambda b: b, id="utf8-bytes-bom"),
    pytest.param(lambda b: b.decode("utf-8"), id="str-with-bom-char"),
    pytest.param(lambda b: b.decode("utf-8-sig"), id="str-no-bom"),
    pytest.param(lambda b: b'<?xml version="1.0" encoding="UTF-8"?>\n' + b[3:], id="bytes-declaration"),
    pytest.param(lambda b: '<?xml version="1.0" encoding="utf-16"?>\r\n' + b.decode("utf-8-sig"),
                 id="str-declaring-an-encoding"),
    pytest.param(lambda b: b.decode("utf-8-sig").encode("utf-16"), id="utf16-bytes-bom"),
    pytest.param(lambda b: ('<?xml version="1.0" encoding="UTF-16"?>' + b.decode("utf-8-sig")).encode("utf-16-le"),
                 id="utf16le-declared"),
])
def test_every_encoding_form_gives_the_same_custdata(encode):
    source = doc(bom=True)

    result = reduce_document(42, encode(source))

    assert result.skip_reason is None
    assert custdata_c14n(result.xml) == custdata_c14n(source)


@pytest.mark.parametrize(("raw", "reason"), [
    (None, EMPTY), ("", EMPTY), (b"", EMPTY), ("\ufeff  \n", EMPTY),
    (b"<Provenir><Request ID='1'><CustData>", MALFORMED), ("not xml at all", MALFORMED),
    (b"<Provenir><Request ID='1'><Rules/></Request></Provenir>", NO_CUSTDATA),
    (b"<Provenir><CustData/></Provenir>", NO_CUSTDATA),
    (b"<Other><Request ID='1'><CustData/></Request></Other>", NO_CUSTDATA),
])
def test_bad_documents_are_skipped_with_a_reason(raw, reason):
    assert reduce_document(1, raw).skip_reason == reason


def test_request_id_disagreeing_with_the_row_is_staged_and_flagged():
    result = reduce_document(42, doc(request_id=43))

    assert result.app_id == 42
    assert result.xml is not None
    assert result.id_mismatch


@pytest.fixture(scope="module")
def isolated():
    """reduce_document in a child process: an input that ends the process fails the test, not pytest."""
    with IsolatedRunner("tests.support.xml_fuzz:reduce_outcome", timeout_s=60) as runner:
        yield runner


def test_the_crash_reproducer_is_a_counted_dtd_skip(isolated):
    """Issue 12: an internal DTD whose nested entities an attribute under CustData uses ended the process
    with SIGSEGV (the moved subtree kept pointers into the freed DTD)."""
    document = ('<!DOCTYPE Provenir [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
                '<Provenir><Request ID="1"><CustData><application note="&b;"/></CustData></Request></Provenir>')

    assert isolated.run([document.encode(), document]) == [("ok", DTD), ("ok", DTD)]
    assert reduce_document(1, document).skip_reason == DTD  # and in this process too, now that it is safe


def test_entities_are_not_expanded_and_external_files_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    source = (f'<!DOCTYPE Provenir [<!ENTITY ext SYSTEM "file://{secret}"><!ENTITY a "aaaaaaaaaa">'
              '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
              '<Provenir><Request ID="1"><CustData><application n="x">&ext;&b;</application></CustData>'
              "</Request></Provenir>").encode()

    result = reduce_document(1, source)

    # Nothing read from disk, nothing multiplied, and no document staged that only made sense with its
    # DTD (``<application>&ext;&b;</application>`` without it is a document no parser reads again).
    assert result.xml is None
    assert result.skip_reason == DTD


def test_a_two_megabyte_document_is_reduced():
    big = provenir_document(9, random.Random(9), target_bytes=2_000_000)
    assert len(big) > 2_000_000

    result = reduce_document(9, big)

    assert result.xml is not None
    assert len(result.xml) < 10_000
    assert custdata_c14n(result.xml) == custdata_c14n(big)


def test_generated_corpus_reduces_to_its_custdata():
    for sample in synthetic_corpus(60, seed=5, median_bytes=3_000, special_every=6):
        result = reduce_document(sample.app_id, sample.body)
        assert (result.xml is not None) == sample.has_custdata, sample.kind
        assert result.id_mismatch == (sample.kind == "id_mismatch")
        if result.xml is not None:
            assert custdata_c14n(result.xml) == custdata_c14n(sample.body)
        else:
            assert result.skip_reason == sample.kind


@pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason="shared Provenir corpus not checked out next to the project")
def test_every_shared_sample():
    files = corpus_files(SHARED_CORPUS)
    assert len(files) >= 100
    for path in files:
        raw = path.read_bytes()
        for value in (raw, raw.decode("utf-8")):  # as bytes and as the NVARCHAR text a driver returns
            result = reduce_document(corpus_app_id(path) or 0, value)
            if path.name == "cc_bloat.xml":
                assert result.skip_reason == MALFORMED
                continue
            assert result.skip_reason is None, path.name
            assert custdata_c14n(result.xml) == custdata_c14n(raw), path.name
            source_root = parse_xml(raw)
            reduced = reduced_root(result.xml)
            assert list(reduced.attrib.items()) == list(source_root.attrib.items()), path.name
            assert list(reduced[0].attrib.items()) == list(source_root.find("Request").attrib.items()), path.name
