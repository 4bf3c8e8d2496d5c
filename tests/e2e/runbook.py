"""The README's rerun commands, run as written against a test cluster, so the runbook cannot drift from what
the e2e tests prove: each command block is taken from the README itself and run by bash with the variables
the README tells the reader to set (``AIRFLOW_URL``, ``AIRFLOW_USER``, ``AIRFLOW_PASSWORD``, ``RUN_ID``)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
APPXML_SECTION = "### appxml staging (`appxml_staging`)"
OPENDENTAL_SECTION = "### OpenDental nightly (`opendental_nightly`)"
TOKEN_MARK = "/auth/token"


def readme_block(section: str, containing: str) -> str:
    """The ```bash block of a README section (``### ...`` heading) that contains ``containing``."""
    text = README.read_text()
    assert section in text, f"README has no section {section!r}"
    body = text.split(section, 1)[1].split("\n### ", 1)[0]
    blocks = [block for block in re.findall(r"```bash\n(.*?)```", body, re.S) if containing in block]
    assert len(blocks) == 1, f"README {section}: {len(blocks)} bash blocks contain {containing!r}"
    return blocks[0]


def run_rerun_commands(section: str, base_url: str, run_id: str) -> list[str]:
    """The token command (appxml section) and then the section's clear commands, in one bash; returns the
    lines they printed. The simple auth manager of the test cluster admits any user (all admins)."""
    script = readme_block(APPXML_SECTION, TOKEN_MARK) + readme_block(section, "clearTaskInstances")
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "AIRFLOW_URL": base_url,
           "AIRFLOW_USER": "operator", "AIRFLOW_PASSWORD": "not-checked-by-the-test-cluster", "RUN_ID": run_id}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, f"README commands failed ({result.returncode}):\n{result.stdout}{result.stderr}"
    return result.stdout.splitlines()
