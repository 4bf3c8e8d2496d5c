"""The extraction core on generated documents and on every shared sample when it is checked out."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from lxml import etree

from devtools.appxml.generator import provenir_document, synthetic_corpus
from devtools.appxml.seed import corpus_app_id, corpus_files
from pipelines.appxml.extract import (
    EMPTY,
    MALFORMED,
    NO_CUSTDATA,
    custdata_c14n,
    hardened_parser,
    reduce_document,
)

SHARED_CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus" / "provenir"


@pytest.fixture(scope="module")
def parser() -> etree.XMLParser:
    return hardened_parser()


def doc(app_id: int = 42, **options) -> bytes:
    return provenir_document(app_id, random.Random(app_id), target_bytes=2_000, **options)


def reduced_root(xml: str) -> etree._Element:
    return etree.fromstring(xml.encode())


def test_reduced_document_keeps_root_request_and_custdata_only(parser):
    result = reduce_document(42, doc(product="rl"), parser)

    root = reduced_root(result.xml)
    assert result.skip_reason is None
    assert not result.id_mismatch
    assert root.tag == "Provenir"
    assert [child.tag for child in root] == ["Request"]
    assert [child.tag for child in root[0]] == ["CustData"]
    assert root[0][0][0].tag == "IL_application"
    assert custdata_c14n(result.xml) == custdata_c14n(doc(product="rl"))


def test_every_root_and_request_attribute_is_kept_in_source_order(parser):
    source = (b'<Provenir zeta="1" alpha="" Extra_RL="x &amp; y" ResponseCode="true">'
              b'<Request Z="9" ID="7" a="&lt;b&gt;"><CustData><application/></CustData><Rules/></Request></Provenir>')

    root = reduced_root(reduce_document(7, source, parser).xml)

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
def test_every_encoding_form_gives_the_same_custdata(parser, encode):
    source = doc(bom=True)

    result = reduce_document(42, encode(source), parser)

    assert result.skip_reason is None
    assert custdata_c14n(result.xml) == custdata_c14n(source)


@pytest.mark.parametrize(("raw", "reason"), [
    (None, EMPTY), ("", EMPTY), (b"", EMPTY), ("\ufeff  \n", EMPTY),
    (b"<Provenir><Request ID='1'><CustData>", MALFORMED), ("not xml at all", MALFORMED),
    (b"<Provenir><Request ID='1'><Rules/></Request></Provenir>", NO_CUSTDATA),
    (b"<Provenir><CustData/></Provenir>", NO_CUSTDATA),
    (b"<Other><Request ID='1'><CustData/></Request></Other>", NO_CUSTDATA),
])
def test_bad_documents_are_skipped_with_a_reason(parser, raw, reason):
    assert reduce_document(1, raw, parser).skip_reason == reason


def test_request_id_disagreeing_with_the_row_is_staged_and_flagged(parser):
    result = reduce_document(42, doc(request_id=43), parser)

    assert result.app_id == 42
    assert result.xml is not None
    assert result.id_mismatch


def test_entities_are_not_expanded_and_external_files_not_read(parser, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    source = (f'<!DOCTYPE Provenir [<!ENTITY ext SYSTEM "file://{secret}"><!ENTITY a "aaaaaaaaaa">'
              '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
              '<Provenir><Request ID="1"><CustData><application n="x">&ext;&b;</application></CustData>'
              "</Request></Provenir>").encode()

    result = reduce_document(1, source, parser)

    # The references stay references: nothing read from disk, nothing multiplied.
    assert result.xml is not None
    assert "&ext;&b;" in result.xml
    assert "TOPSECRET" not in result.xml
    assert "aaaaaaaaaa" not in result.xml


def test_a_two_megabyte_document_is_reduced(parser):
    big = provenir_document(9, random.Random(9), target_bytes=2_000_000)
    assert len(big) > 2_000_000

    result = reduce_document(9, big, parser)

    assert result.xml is not None
    assert len(result.xml) < 10_000
    assert custdata_c14n(result.xml) == custdata_c14n(big)


def test_generated_corpus_reduces_to_its_custdata(parser):
    for sample in synthetic_corpus(60, seed=5, median_bytes=3_000, special_every=6):
        result = reduce_document(sample.app_id, sample.body, parser)
        assert (result.xml is not None) == sample.has_custdata, sample.kind
        assert result.id_mismatch == (sample.kind == "id_mismatch")
        if result.xml is not None:
            assert custdata_c14n(result.xml) == custdata_c14n(sample.body)
        else:
            assert result.skip_reason == sample.kind


@pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason="shared Provenir corpus not checked out next to the project")
def test_every_shared_sample(parser):
    files = corpus_files(SHARED_CORPUS)
    assert len(files) >= 100
    for path in files:
        raw = path.read_bytes()
        for value in (raw, raw.decode("utf-8")):  # as bytes and as the NVARCHAR text a driver returns
            result = reduce_document(corpus_app_id(path) or 0, value, parser)
            if path.name == "cc_bloat.xml":
                assert result.skip_reason == MALFORMED
                continue
            assert result.skip_reason is None, path.name
            assert custdata_c14n(result.xml) == custdata_c14n(raw), path.name
            source_root = etree.fromstring(raw, hardened_parser())
            reduced = reduced_root(result.xml)
            assert list(reduced.attrib.items()) == list(source_root.attrib.items()), path.name
            assert list(reduced[0].attrib.items()) == list(source_root.find("Request").attrib.items()), path.name
