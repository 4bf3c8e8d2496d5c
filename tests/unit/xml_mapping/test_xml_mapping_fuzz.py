"""The mapping path (validate, parse with ``common.xml``, route, map) over the project's generated hostile
documents, in a child process: no input may raise or end the process; each is a failure stage or mapped."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.isolated import IsolatedRunner
from tests.support.xml_fuzz import Traps, hostile_documents

TARGET = "tests.unit.xml_mapping.xml_mapping_fuzz_target:map_outcome"
STAGES = {"validation", "parsing", "mapping", "mapped"}


@pytest.fixture(scope="module")
def traps(tmp_path_factory) -> Traps:
    return Traps.create(tmp_path_factory.mktemp("xml-mapping-traps"))


def test_no_hostile_document_crashes_or_raises_in_the_mapper(traps):
    with IsolatedRunner(TARGET, timeout_s=120) as runner:
        @settings(max_examples=60, derandomize=True, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.large_base_example])
        @given(st.lists(hostile_documents(traps), min_size=1, max_size=20))
        def check(batch):
            outcomes = runner.run(batch)
            findings = [outcome for kind, outcome in outcomes if kind != "ok" or outcome not in STAGES]
            assert not findings, f"{len(findings)} input(s) raised; first: {findings[0]}"

        check()
