"""Running a partition's programs and the PUP_fileload lockfile check, with real subprocesses (the stand-in
program)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from pipelines.fileload_insight.errors import CommandFailed, LockfileHeld
from pipelines.fileload_insight.lockfile import ensure_lockfile_free, inspect_lockfile, pid_alive
from pipelines.fileload_insight.operators import PartitionCommandOperator
from pipelines.fileload_insight.programs import base_environment, start_command
from tests.fixtures.fileload_insight.partitions import (
    STANDIN,
    load_partitions,
    partition_entry,
    partitions_document,
    records,
)
from tests.fixtures.fileload_insight.standin_program import MEMBER_LINE
from tests.support.programs import run_command

pytestmark = pytest.mark.integration


def standin(record_dir, label, *extra):
    return [sys.executable, str(STANDIN), "--record-dir", str(record_dir), "--label", label, *extra]


def wait_for_record(record_dir, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = records(record_dir)
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError("the stand-in program never started")


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (dead, not yet reaped by its parent)."""
    if not pid_alive(pid):
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def assert_gone_soon(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)


def test_output_streams_to_the_log_and_only_given_env_reaches_the_program(tmp_path, caplog):
    env = {**base_environment({"PATH": os.environ["PATH"], "AIRFLOW_CONN_OTHER": "postgres://x:secret@h/db"}),
           "PARTITION": "b", "DB_PASSWORD": "only-in-env"}

    with caplog.at_level(logging.INFO):
        run_command("fileload[b]", standin(tmp_path, "ok"), env)

    record = records(tmp_path)[0]
    assert record["env"]["PARTITION"] == "b"
    assert "AIRFLOW_CONN_OTHER" not in record["env_names"]
    assert "only-in-env" not in json.dumps(record["argv"])
    assert record["password_sha256"] is not None
    assert "[fileload[b]] ok: started for partition b" in caplog.text
    assert "[fileload[b]] ok: done" in caplog.text
    assert "only-in-env" not in caplog.text


def test_non_zero_exit_fails_naming_the_program_and_its_stderr_stays_in_the_log(tmp_path, caplog):
    (tmp_path / "fail_bad").touch()

    with caplog.at_level(logging.INFO), pytest.raises(CommandFailed) as failed:
        run_command("run_insight[a]", standin(tmp_path, "bad"), base_environment())

    assert str(failed.value) == "run_insight[a] exited with code 3; its output is in the task log"
    assert f"[run_insight[a]] {MEMBER_LINE} rejected by bad" in caplog.text
    assert "[run_insight[a]] bad: simulated failure for the test" in caplog.text
    assert (f"run_insight[a] exited with code 3; last stderr lines: {MEMBER_LINE} rejected by bad | "
            "bad: simulated failure for the test") in caplog.text


def test_kill_takes_down_the_whole_process_group(tmp_path):
    running = start_command("fileload[a]", standin(tmp_path, "slow", "--sleep", "120", "--spawn-child"),
                            base_environment())
    record = wait_for_record(tmp_path)
    child = record["child_pid"]
    assert alive(child)

    running.kill()

    assert running.process.poll() is not None
    assert_gone_soon(child)


def test_lockfile_held_by_a_live_program_refuses_the_start(tmp_path):
    lockfile = tmp_path / "pup_fileload.a.lock"
    holder = subprocess.Popen(standin(tmp_path, "holder", "--sleep", "60", "--lockfile", str(lockfile)))
    try:
        wait_for_record(tmp_path)
        with pytest.raises(LockfileHeld, match=rf"pup_fileload\.a\.lock is held by process {holder.pid}"):
            ensure_lockfile_free(lockfile)
        assert lockfile.exists()
    finally:
        holder.kill()
        holder.wait()


def test_lockfile_of_a_dead_process_is_removed(tmp_path):
    lockfile = tmp_path / "pup_fileload.b.lock"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lockfile.write_text(f"{dead.pid}\n")

    state = ensure_lockfile_free(lockfile)

    assert state.exists
    assert state.pid == dead.pid
    assert not state.held
    assert not lockfile.exists()
    assert not inspect_lockfile(lockfile).exists


def test_killing_the_task_kills_the_program_and_its_children(tmp_path, set_connection):
    set_connection("fli_kill", json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "login": "u"}))
    config = load_partitions(partitions_document({"a": partition_entry("a", "fli_kill", "o_a", tmp_path, [1])},
                                                  tmp_path / "locks"))
    command = config.partitions["a"].fileload.model_copy(
        update={"argv": standin(tmp_path, "long", "--sleep", "120", "--spawn-child")})
    task = PartitionCommandOperator(task_id="fileload", partition=config.partitions["a"], command=command,
                                    step="fileload")
    outcome: list[BaseException] = []

    def execute() -> None:
        try:
            task.execute({"ti": SimpleNamespace(dag_id="pup_fileload__a", run_id="manual__kill")})
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=execute)
    worker.start()
    child = wait_for_record(tmp_path)["child_pid"]

    task.on_kill()
    worker.join(timeout=30)

    assert isinstance(outcome[0], CommandFailed)
    assert "fileload[a] killed by signal 15" in str(outcome[0])
    assert_gone_soon(child)
