"""The rerun commands of the runbook (docs/runbook.md), run as written against a test cluster, so the runbook
cannot drift from what the e2e tests prove: each command block is taken from the runbook itself and run by bash
with the variables the runbook tells the reader to set (``AIRFLOW_URL``, ``AIRFLOW_USER``, ``AIRFLOW_PASSWORD``,
``RUN_ID``)."""

from __future__ import annotations

import json
import os
import subprocess

from tests.support.readme import RUNBOOK, code_block

RERUN_SECTION = "## Rerun failed partitions"
APPXML_SECTION = "### Rerun: appxml staging"
OPENDENTAL_SECTION = "### Rerun: OpenDental"
PARTITIONS_SECTION = "### Rerun: Fileload and Insight"
BEFORE_FAN_OUT_SECTION = "### Rerun: a failure before the fan-out"
TOKEN_MARK = "/auth/token"
TRIGGER_SECTION = "## Trigger a run with conf"


def run_rerun_commands(section: str, base_url: str, run_id: str, **variables: str) -> list[str]:
    """The token command and then the section's clear commands, in one bash; returns the lines they printed.
    ``variables``: others the section tells the reader to set (e.g. ``DAG_ID``, ``TASK_ID``). The simple auth
    manager of the test cluster admits any user (all admins)."""
    return _run_with_token(code_block(section, "bash", "clearTaskInstances", RUNBOOK), base_url, RUN_ID=run_id,
                           **variables)


def trigger_with_conf(base_url: str, dag_id: str, conf: dict) -> str:
    """The runbook's REST trigger with ``conf``, as written; returns the run id it printed."""
    lines = _run_with_token(code_block(TRIGGER_SECTION, "bash", "dagRuns", RUNBOOK), base_url, DAG_ID=dag_id,
                            CONF=json.dumps(conf))
    return lines[-1]


def _run_with_token(commands: str, base_url: str, **variables: str) -> list[str]:
    script = code_block(RERUN_SECTION, "bash", TOKEN_MARK, RUNBOOK) + commands
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "AIRFLOW_URL": base_url,
           "AIRFLOW_USER": "operator", "AIRFLOW_PASSWORD": "not-checked-by-the-test-cluster", **variables}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, f"runbook commands failed ({result.returncode}):\n{result.stdout}{result.stderr}"
    return result.stdout.splitlines()
