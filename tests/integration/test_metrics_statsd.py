"""The figures of docs/observability.md through Airflow's real StatsD client to a local UDP port: every
documented figure arrives with its tags, from the same calls the families' tasks make."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.common import metrics
from tests.support.statsd_sink import statsd_metrics

pytestmark = pytest.mark.integration
DOC = Path(__file__).resolve().parents[2] / "docs" / "observability.md"
KINDS = {"counter": "c", "gauge": "g", "timing": "ms"}


@pytest.fixture
def statsd(monkeypatch):
    with statsd_metrics(monkeypatch) as sink:
        yield sink


def by_name(received) -> dict[str, list]:
    out: dict[str, list] = {}
    for metric in received:
        out.setdefault(metric.name.removeprefix("airflow.pipelines."), []).append(metric)
    return out


def test_every_documented_figure_arrives_with_its_tags(statsd):
    metrics.appxml_partition({"partition": "rem=1/4", "processed": 40, "staged": 32, "rows_per_sec": 83.6,
                              "duration_s": 0.5, "skipped": {"malformed": 3, "empty": 5}})
    metrics.mapping_partition({"partition": "rem=0/2", "processed": 30, "docs_per_sec": 12.5, "duration_s": 2.4,
                               "rows_per_table": {"application": 30, "loan_terms": 12},
                               "failed_by_stage": {"contract": 2},
                               "conversions": {"application.small_value": {"unconvertible": 2}}})
    metrics.opendental_stage({"table": "patient", "watermark": "2026-01-01T00:00:00",
                              "stages": {"extract": {"rows": 120, "seconds": 2.0, "deleted": 3, "repaired": 1}}},
                             "extract")
    metrics.opendental_stage({"table": "patient", "stages": {"load": {"rows": 120, "seconds": 1.0, "conversions": {
        "birthdate": {"zero_date": 4}}}}}, "load")
    metrics.emit("opendental", {"lock_wait_seconds": 1.25}, lock="table_slot")
    metrics.emit("fileload_insight", {"lock_wait_seconds": 4.0}, partition="p01")

    got = by_name(statsd.metrics())

    assert set(got) == set(metrics.FIGURES)
    for name, kind in metrics.FIGURES.items():
        assert {m.kind for m in got[name]} == {KINDS[kind]}, name
        assert all("family" in m.tags for m in got[name]), name
    assert {(m.tags.get("partition"), m.tags.get("table"), m.value) for m in got["rows_written"]} >= {
        ("rem_1_4", "dbo.app_xml_staging", 32), ("rem_0_2", "application", 30), ("rem_0_2", "loan_terms", 12)}
    assert {(m.tags.get("reason"), m.value) for m in got["rows_skipped"]} == {("malformed", 3), ("empty", 5)}
    assert [(m.tags, m.value) for m in got["mapping_failures"]] == [
        ({"family": "xml_mapping", "partition": "rem_0_2", "stage": "contract"}, 2)]
    (lag,) = got["watermark_lag_seconds"]
    assert lag.tags == {"family": "opendental", "table": "patient", "stage": "extract"}
    assert lag.value > 86400
    assert [m.value for m in got["rows_deleted"]] == [3]
    assert [m.value for m in got["rows_repaired"]] == [1]
    assert {m.tags["family"]: m.value for m in got["lock_wait_seconds"]} == {"opendental": 1.25,
                                                                            "fileload_insight": 4.0}
    assert [m.value for m in got["rows_per_second"] if m.tags.get("table") == "patient"] == [60.0, 120.0]
    assert {m.tags["family"]: (m.tags, m.value) for m in got["values_converted"]} == {
        "xml_mapping": ({"family": "xml_mapping", "partition": "rem_0_2", "table": "application",
                         "column": "small_value", "kind": "unconvertible"}, 2),
        "opendental": ({"family": "opendental", "table": "patient", "stage": "load", "column": "birthdate",
                        "kind": "zero_date"}, 4)}


def test_the_figures_table_of_the_docs_is_the_code_s():
    documented = dict(re.findall(r"^\| `(\w+)` \| (counter|gauge|timing)", DOC.read_text(), re.MULTILINE))
    assert documented == metrics.FIGURES


def test_without_statsd_the_calls_send_nothing_and_raise_nothing(monkeypatch):
    monkeypatch.delenv("AIRFLOW__METRICS__STATSD_ON", raising=False)
    metrics.emit("appxml", {"rows_read": 1, "duration": 0.1}, partition="rem=0/1")
