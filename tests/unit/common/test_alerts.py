from __future__ import annotations

from types import SimpleNamespace

from pipelines.common.alerts import (
    MAX_ERROR_CHARS,
    FailureAlert,
    alert_from_dag_context,
    alert_from_task_context,
    exception_summary,
)


def task_context(map_index: int = -1, label: str | None = None, exception: BaseException | None = None) -> dict:
    ti = SimpleNamespace(dag_id="appxml_staging", task_id="stage_partition", run_id="manual__1", try_number=3,
                         map_index=map_index, rendered_map_index=label, log_url="http://ui/log")
    return {"ti": ti, "exception": exception}


def test_exception_summary_keeps_class_and_first_line_only():
    error = ValueError("bad row 17\n<CustData>secret</CustData>")

    assert exception_summary(error) == ("ValueError", "bad row 17")


def test_exception_summary_truncates_long_lines():
    _, line = exception_summary(RuntimeError("x" * 1000))

    assert len(line) == MAX_ERROR_CHARS


def test_task_alert_names_mapped_label_and_ids():
    alert = alert_from_task_context(task_context(3, "rem=3/8", KeyError("app_id")), {"Job run": "jr_1"})

    assert alert.title == "Task failed: appxml_staging.stage_partition [rem=3/8]"
    assert alert.fields() == {
        "DAG": "appxml_staging", "Task": "stage_partition", "Mapped item": "rem=3/8", "Run": "manual__1",
        "Try": "3", "Error": "KeyError: 'app_id'", "Job run": "jr_1", "Log": "http://ui/log",
    }


def test_unrendered_mapped_item_falls_back_to_map_index():
    alert = alert_from_task_context(task_context(5, None))

    assert alert.map_label == "map_index=5"


def test_unmapped_task_has_no_label():
    assert "Mapped item" not in alert_from_task_context(task_context()).fields()


def test_dag_alert_names_last_task_and_reason():
    context = {"dag": SimpleNamespace(dag_id="opendental_nightly"), "run_id": "scheduled__x",
               "reason": "task_failure", "ti": task_context(2, "patient")["ti"]}

    alert = alert_from_dag_context(context)

    assert alert.title == "DAG run failed: opendental_nightly"
    assert alert.fields()["Last task"] == "stage_partition [patient]"
    assert alert.fields()["Reason"] == "task_failure"


def test_payload_has_text_fallback_and_at_most_ten_fields_per_section():
    alert = FailureAlert(dag_id="d", run_id="r", task_id="t", details={f"k{i}": i for i in range(12)})

    payload = alert.payload()

    assert payload["text"].startswith("Task failed: d.t")
    sections = [block for block in payload["blocks"] if block["type"] == "section"]
    assert [len(section["fields"]) for section in sections] == [10, 5]
