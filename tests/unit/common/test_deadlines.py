"""include/config/deadlines.yaml: run limits validated with one-line errors; the deadline-miss alert carries ids
only, and stays quiet for a run that already failed (and alerted)."""

from __future__ import annotations

import asyncio
import shutil
from datetime import time, timedelta
from pathlib import Path

import pytest
import yaml

from pipelines.common.config import ConfigError
from pipelines.common.deadlines import alert_from_deadline_context, minutes_after, post_deadline_miss, run_limits
from pipelines.common.paths import INCLUDE_DIR_ENV

PROJECT_CONFIG = Path(__file__).resolve().parents[3] / "include" / "config"


@pytest.fixture
def deadlines_file(tmp_path, monkeypatch) -> Path:
    shutil.copytree(PROJECT_CONFIG, tmp_path / "config")
    monkeypatch.setenv(INCLUDE_DIR_ENV, str(tmp_path))
    return tmp_path / "config" / "deadlines.yaml"


def test_a_done_by_hour_is_counted_from_the_slot_past_midnight_too():
    assert minutes_after(time(1, 30), time(5, 0)) == timedelta(hours=3, minutes=30)
    assert minutes_after(time(22, 0), time(5, 0)) == timedelta(hours=7)


def test_staging_is_late_at_its_configured_hour_after_its_slot():
    limits = run_limits("appxml_staging", cron="30 1 * * *")
    assert limits["dagrun_timeout"] == timedelta(hours=5)
    assert type(limits["deadline"].reference).__name__ == "DagRunLogicalDateDeadline"
    assert limits["deadline"].interval == timedelta(hours=3, minutes=30)


@pytest.mark.parametrize(("mapping", "message"), [
    ({"deadline_minutes": 60}, "appxml_mapping.dagrun_timeout_minutes: Field required"),
    ({"deadline_minutes": -5, "dagrun_timeout_minutes": 60}, "appxml_mapping.deadline_minutes: Input should be"),
    ({"deadline_minutes": 5, "done_by": "05:00", "dagrun_timeout_minutes": 60}, "not both"),
])
def test_a_wrong_setting_is_one_line_naming_the_field(deadlines_file, mapping, message):
    settings = yaml.safe_load(deadlines_file.read_text())
    deadlines_file.write_text(yaml.safe_dump({**settings, "appxml_mapping": mapping}))

    with pytest.raises(ConfigError) as raised:
        run_limits("appxml_mapping")
    assert message in str(raised.value)
    assert str(raised.value).startswith("deadlines.yaml: ")
    assert "\n" not in str(raised.value)


def test_a_done_by_deadline_needs_a_fixed_daily_slot():
    with pytest.raises(ConfigError, match="one fixed time of day"):
        run_limits("appxml_staging", cron="*/15 * * * *")


CONTEXT = {"dag_run": {"dag_id": "opendental_nightly", "dag_run_id": "scheduled__2026-12-04T07:00:00+00:00",
                       "state": "running", "conf": {"tables": ["patient"]}},
           "deadline": {"id": "0193", "deadline_time": "2026-12-04T12:00:00+00:00"}}


def test_the_late_alert_names_dag_run_and_deadline_and_nothing_else():
    text = alert_from_deadline_context(CONTEXT).text()
    assert text == ("DAG run late: opendental_nightly\nDAG: opendental_nightly\n"
                    "Run: scheduled__2026-12-04T07:00:00+00:00\nDeadline: 2026-12-04T12:00:00+00:00\nState: running")


def test_a_late_run_posts_one_message_and_a_failed_one_none(slack_webhook):
    asyncio.run(post_deadline_miss(context=CONTEXT))
    failed = {**CONTEXT, "dag_run": {**CONTEXT["dag_run"], "state": "failed"}}
    asyncio.run(post_deadline_miss(context=failed))

    assert slack_webhook.texts() == [alert_from_deadline_context(CONTEXT).text()]


def test_deadline_alerts_can_be_left_out_for_an_in_process_run(monkeypatch):
    """``airflow dags test`` crashes on a DAG with a deadline (Airflow 3.3.2): the switch drops it, not the timeout."""
    monkeypatch.setenv("PIPELINES_DEADLINE_ALERTS", "off")
    assert run_limits("appxml_mapping") == {"dagrun_timeout": timedelta(hours=6)}
