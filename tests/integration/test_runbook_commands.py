"""Every shell block the README, the runbook and the family pages show runs as written, so the text cannot rot.

A block runs here, in the shell the runbook names (``make shell``: the venv's ``python`` and ``airflow`` first on
``PATH``, ``PYTHONPATH`` holding ``plugins/``, the connections defined, the working directory a project root),
against databases this test creates; or the line before it marks it ``<!-- runbook: e2e (test file) -->`` (that
e2e test runs it as written against a real Airflow) or ``<!-- runbook: skip (reason) -->`` (it needs what
these machines do not have: Docker, a production server, a scheduler with a run in a given state).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from devtools.appxml import demo as appxml_demo
from devtools.demo import DemoEnv
from devtools.local_airflow import AIRFLOW_CLI
from devtools.localdb import unique_name
from pipelines.common.database.engines import engine_from_url
from tests.support.readme import COMMAND_PAGES, ROOT, ShellBlock, shell_blocks
from tests.support.services import Database, conn_env_name

pytestmark = pytest.mark.integration
MOD, REM = 8, 3  # the partition the runbook's command-line jobs run


@dataclass
class Shell:
    """``make shell``, in a project root of its own: a copy of ``include/`` (the jobs write only there)."""

    root: Path
    env: dict[str, str]
    database: Database

    def run(self, block: ShellBlock) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "--noprofile", "--norc", "-euo", "pipefail", "-c", block.text],
                              cwd=self.root, env=self.env, capture_output=True, text=True, timeout=600,
                              check=False)

    def airflow(self, *args: str) -> str:
        result = subprocess.run([str(AIRFLOW_CLI), *args], cwd=self.root, env=self.env, capture_output=True,
                                text=True, timeout=300, check=True)
        return result.stdout

    def scalar(self, sql: str) -> object:
        engine = engine_from_url(self.database.url)
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text(sql)).scalar()
        finally:
            engine.dispose()


def all_blocks() -> list[ShellBlock]:
    return [block for page in COMMAND_PAGES for block in shell_blocks(page)]


def check_pools(shell: Shell, result: subprocess.CompletedProcess) -> None:
    """The generated pools.json is the shipped one (it is current), and Airflow now has every partition pool."""
    written = json.loads((shell.root / "include" / "config" / "pools.json").read_text())
    assert written == json.loads((ROOT / "include" / "config" / "pools.json").read_text())
    pools = {pool["pool"] for pool in json.loads(shell.airflow("pools", "list", "-o", "json"))}
    assert {name for name in written if name.startswith("partition_")} <= pools, pools


def check_partition_jobs(shell: Shell, result: subprocess.CompletedProcess) -> None:
    """Staging staged exactly partition rem=3/8 and wrote its metrics; the mapping logged every one of them."""
    staged = shell.scalar("SELECT COUNT(*) FROM dbo.app_xml_staging")
    assert staged
    assert staged == shell.scalar(f"SELECT COUNT(*) FROM dbo.app_xml_staging WHERE app_id % {MOD} = {REM}")
    assert json.loads((shell.root / "appxml_3.json").read_text())["staged"] == staged
    figures = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [line["partition"] for line in figures] == [f"rem={REM}/{MOD}"] * 2, result.stdout
    assert figures[1]["processed"] == staged, figures


def check_schema_and_help(shell: Shell, result: subprocess.CompletedProcess) -> None:
    """The target the mapping created matches the contracts; the help names every option the page lists."""
    report = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    assert report["mismatched_columns"] in ([], {}), report
    for option in ("--limit", "--start-after", "--drop-index", "--recreate-index", "--metrics"):
        assert option in result.stdout


#: What each block runnable here must have done, by a pattern of its first line (in page order).
CHECKS: dict[str, Callable[[Shell, subprocess.CompletedProcess], None]] = {
    r"python -m pipelines\.fileload_insight pools ": check_pools,
    r"python -m pipelines\.appxml --conn-id": check_partition_jobs,
    r"python -m pipelines\.xml_mapping --conn-id \S+ --check-schema": check_schema_and_help,
}


def check_of(block: ShellBlock) -> Callable[[Shell, subprocess.CompletedProcess], None] | None:
    first = block.text.lstrip().splitlines()[0]
    return next((check for pattern, check in CHECKS.items() if re.match(pattern, first)), None)


def test_every_shell_block_is_run_here_or_by_an_e2e_test_or_skipped_with_a_reason():
    blocks = all_blocks()
    assert len(blocks) >= 10, [block.where for block in blocks]
    for block in blocks:
        if block.mark == "e2e":
            runner = ROOT / block.reason
            assert runner.is_file(), f"{block.where}: no e2e test {runner}"
            assert "runbook" in runner.read_text(), f"{block.where}: {runner} does not read the runbook"
        elif block.mark == "skip":
            assert len(block.reason.split()) >= 3, f"{block.where}: say why it cannot run here"
        else:
            assert check_of(block), f"{block.where}: runnable block without a check here (or mark it)"
    assert {check_of(block) for block in blocks if not block.mark} == set(CHECKS.values())  # no stale check


def test_every_command_is_in_a_fenced_block():
    """An indented command is run by no test: it must be a fenced ``bash`` block (run or marked)."""
    command = re.compile(r"^ {4,}(airflow|python|PYTHONPATH=|curl|docker|make|export) ", re.M)
    for page in COMMAND_PAGES:
        outside = re.sub(r"^ *```.*?^ *```", "", page.read_text(), flags=re.M | re.S)
        assert not command.findall(outside), f"{page.relative_to(ROOT)}: {command.findall(outside)}"


@pytest.fixture
def shell(tmp_path, airflow_db) -> Iterator[Shell]:
    """``make shell`` on the demo's appxml data: ``mssql_appxml`` is a PostgreSQL database seeded as ``make
    airflow`` seeds it (databases of its own, dropped afterwards)."""
    demo = DemoEnv(aws=None, work_dir=tmp_path, db_prefix=unique_name("pipelines_test_runbook"))
    try:
        appxml_demo.seed_source(demo)
        root = tmp_path / "clone"
        shutil.copytree(ROOT / "include", root / "include")
        env = {key: value for key, value in os.environ.items() if key.startswith("AIRFLOW")}
        env.update({"HOME": str(Path.home()), "LANG": "C.UTF-8",
                    "PATH": f"{AIRFLOW_CLI.parent}:/usr/local/bin:/usr/bin:/bin",
                    "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",  # what the Makefile exports to make shell
                    "PIPELINES_INCLUDE_DIR": str(root / "include"),
                    **{conn_env_name(cid): conn for cid, conn in appxml_demo.connections(demo).items()}})
        yield Shell(root, env, demo.database("postgres", "appxml"))
    finally:
        demo.drop_databases()


def test_the_runnable_blocks_run_as_written_in_make_shell(shell):
    for block in (block for block in all_blocks() if not block.mark):
        result = shell.run(block)
        assert result.returncode == 0, f"{block.where}:\n{block.text}\n{result.stdout[-2000:]}{result.stderr[-3000:]}"
        check_of(block)(shell, result)
