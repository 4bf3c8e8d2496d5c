"""The Airflow UI as an operator uses it: ``tests/browser/airflow_ui.mjs`` drives Debian's headless chromium
(``playwright-core`` from the npm registry, installed by ``make bootstrap``) through the pages, and each step
returns what the page showed and leaves a screenshot.

Screenshots go to ``$PIPELINES_SCREENSHOTS_DIR`` when it is set (``make screenshots`` points it at
``docs/``, where the runbook's pictures live), else to the test's temporary folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.airflow_cluster import deadline

BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"
SCRIPT = BROWSER_DIR / "airflow_ui.mjs"
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS_ENV = "PIPELINES_SCREENSHOTS_DIR"


def missing_browser() -> str | None:
    """Why the UI cannot be driven here (what ``make bootstrap`` installs), or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (Debian package chromium)"
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is not installed in tests/browser (npm ci --prefix tests/browser)"
    return None


def screenshots_dir(fallback: Path) -> Path:
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or fallback)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class AirflowUi:
    """One browser session per step, signed in with the served Airflow's login (passed as environment, never
    on a command line)."""

    def __init__(self, base_url: str, login: tuple[str, str], screenshots: Path) -> None:
        if (reason := missing_browser()) is not None:
            pytest.fail(f"cannot drive the Airflow UI: {reason}; run `make bootstrap`")
        user, password = login
        self.screenshots = screenshots
        self.env = {**os.environ, "AIRFLOW_URL": base_url, "AIRFLOW_USER": user, "AIRFLOW_PASSWORD": password,
                    "CHROMIUM_PATH": CHROMIUM, "UI_WAIT_MS": str(int(deadline(60) * 1000))}

    def shot(self, name: str) -> Path:
        return self.screenshots / f"{name}.png"

    def _step(self, *args: str) -> dict[str, Any]:
        result = subprocess.run(["node", str(SCRIPT), *args], env=self.env, capture_output=True, text=True,
                                timeout=deadline(300), check=False)
        assert result.returncode == 0, f"UI step {args[0]} failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
        return json.loads(result.stdout.strip().splitlines()[-1])

    def trigger(self, dag_id: str, fields: dict[str, Any], shot: str) -> str:
        """Open the DAG's trigger form, fill ``fields`` (by their titles), click Trigger; the new run's id."""
        return self._step("trigger", dag_id, str(self.shot(shot)), json.dumps(fields))["run_id"]

    def mapped_instances(self, dag_id: str, run_id: str, task_id: str, shot: str) -> list[tuple[str, str, int]]:
        """The run's mapped instances of ``task_id`` as listed: (label, state, try number)."""
        rows = self._step("mapped", dag_id, run_id, task_id, str(self.shot(shot)))["rows"]
        return [tuple(row) for row in rows]

    def clear_failed(self, dag_id: str, run_id: str, task_id: str, label: str, shot: str) -> list[tuple[str, int]]:
        """Clear the instance labelled ``label`` with "Downstream" and "Clear only failed tasks"; the
        (task, map index) pairs the confirmation listed."""
        affected = self._step("clear-failed", dag_id, run_id, task_id, label, str(self.shot(shot)))["affected"]
        return [(task, map_index) for task, _state, map_index in affected]
