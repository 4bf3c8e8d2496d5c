"""`make demo FAIL=<family>:<target>`: the families that can fail on request, and the one-line refusal of a
request none of them takes (before anything is seeded or run)."""

from __future__ import annotations

import pytest

from devtools.demo import chosen_fault, discover_demos, discover_faults


def test_appxml_opendental_and_fileload_can_fail_on_request() -> None:
    assert {"appxml", "opendental", "fileload"} <= set(discover_faults())


@pytest.mark.parametrize(("request_", "dag_id", "item"), [
    ("appxml:1", "appxml_staging", "stage_partition [rem=1/4]"),
    ("opendental:definition", "opendental_nightly", "copy_table [definition]"),
    ("fileload:b", "pup_fileload__b", "fileload"),
])
def test_a_request_names_a_demo_dag_and_the_instance_that_fails(request_, dag_id, item) -> None:
    fault, target = chosen_fault(request_)
    assert fault.dag_id(target) == dag_id
    assert fault.dag_id(target) in {spec.dag_id for spec in discover_demos()}
    assert fault.failed_item(target) == item


@pytest.mark.parametrize(("request_", "message"), [
    ("nosuch:1", "FAIL=nosuch:1: unknown family 'nosuch'; one of: appxml:<remainder 0..3>;"),
    ("appxml:4", "FAIL=appxml:4: appxml takes appxml:<remainder 0..3>"),
    ("appxml", "FAIL=appxml: appxml takes appxml:<remainder 0..3>"),
    ("opendental:nosuchtable", "FAIL=opendental:nosuchtable: opendental takes opendental:<table: patient|"),
])
def test_a_request_no_family_takes_is_refused_in_one_line(request_, message) -> None:
    with pytest.raises(ValueError, match=r"^FAIL=") as refused:
        chosen_fault(request_)
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)
