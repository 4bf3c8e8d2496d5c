"""Fuzz test of every XML-parsing path: generated hostile documents (``tests.support.xml_fuzz``) run in a
child process, so an input that ends a process fails this test instead of killing pytest.

Bounded for ``make test``: a fixed, derandomised set of examples per path (the same inputs on every run).
For a longer, random search: ``XML_FUZZ_EXAMPLES=2000 pytest tests/unit/common/test_xml_fuzz.py``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.isolated import IsolatedRunner
from tests.support.xml_fuzz import Traps, hostile_documents

#: Every XML-parsing path of the project: ``module:function`` run on each input in the child process.
FUZZ_TARGETS = {
    "common.parse_xml": "tests.support.xml_fuzz:parse_outcome",
    "appxml.reduce_document": "tests.support.xml_fuzz:reduce_outcome",
    "xml_mapping.map": "tests.support.xml_fuzz:map_outcome",
}
BATCH = 20

DEFAULT_EXAMPLES = 100
EXAMPLES = int(os.environ.get("XML_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, derandomize=EXAMPLES == DEFAULT_EXAMPLES, deadline=None,
                         database=None, print_blob=True,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                HealthCheck.large_base_example])


@pytest.fixture(scope="module")
def traps(tmp_path_factory) -> Traps:
    return Traps.create(tmp_path_factory.mktemp("xml-traps"))


@pytest.fixture(scope="module", params=sorted(FUZZ_TARGETS))
def runner(request):
    with IsolatedRunner(FUZZ_TARGETS[request.param], timeout_s=120) as isolated:
        yield isolated


def test_no_hostile_document_crashes_or_escapes(runner, traps):
    @FUZZ_SETTINGS
    @given(st.lists(hostile_documents(traps), min_size=1, max_size=BATCH))
    def check(batch):
        outcomes = runner.run(batch)
        findings = [(value, outcome) for value, (kind, outcome) in zip(batch, outcomes, strict=True)
                    if kind != "ok"]
        assert not findings, f"{len(findings)} input(s) raised; first: {findings[0][1]}"

    check()
