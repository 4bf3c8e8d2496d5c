"""``make shell`` opens only on a local Airflow that answers: without the env file ``make airflow`` writes, or
with one left by an Airflow that is gone (its metadata DB dropped), it refuses with one line."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from devtools.localdb import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("make") is None or shutil.which("curl") is None,
                                reason="needs make and curl")


def make_shell(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "-f", str(ROOT / "Makefile"), "shell"], cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, check=False)


def test_refuses_without_the_env_file(tmp_path):
    result = make_shell(tmp_path)
    assert result.returncode != 0
    assert "make shell: start 'make airflow' first" in result.stderr
    assert "airflow CLI of the local Airflow" not in result.stdout


def test_refuses_an_env_file_whose_airflow_is_gone(tmp_path):
    (tmp_path / ".airflow").mkdir()
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    (tmp_path / ".airflow" / "airflow.env").write_text(f"export AIRFLOW_URL={url}\n")
    result = make_shell(tmp_path)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("make shell:")]
    assert lines == [f"make shell: the local Airflow does not answer at {url}; start 'make airflow' first"]
    assert "airflow CLI of the local Airflow" not in result.stdout
