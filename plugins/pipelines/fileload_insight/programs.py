"""Run a partition's program as a subprocess: output streamed to the task log, credentials in the
environment only, the whole process group killed when the task is killed or times out.

What a program prints can be anything (member ids, names), so it goes to the task log and nowhere else:
a failure is raised with the program's name, its exit code and a pointer to the task log, and that
message is all a Slack alert carries."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from pipelines.fileload_insight.config import Command, Partition
from pipelines.fileload_insight.errors import CommandFailed

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 5
KILL_GRACE_SECONDS = 10
#: The only variables a program inherits from the worker: it must not see the worker's own secrets
#: (other connections, the Airflow config), only what its partition needs.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")


def base_environment(source: Mapping[str, str] | None = None) -> dict[str, str]:
    source = os.environ if source is None else source
    return {key: source[key] for key in INHERITED_ENV if key in source}


def program_argv(partition: Partition, command: Command, lockfile: str | None = None) -> list[str]:
    """The command line of ``command`` on ``partition``: its placeholders filled with names and paths only."""
    return command.render_argv({
        "partition": partition.name,
        "lockfile": lockfile or "",
        "member_repository_db": partition.member_repository_db,
        "outcomes_identification_db": partition.outcomes_identification_db,
    })


def program_environment(partition: Partition, connection: Any, *, dag_id: str, run_id: str,
                        extra: Mapping[str, str], inherited: Mapping[str, str]) -> dict[str, str]:
    """What the program sees: its partition's names, and the DB credentials from the Airflow connection.

    Credentials go only here, never on the command line (visible to every user through ``ps``)."""
    env = {
        **inherited,
        **extra,
        "PARTITION": partition.name,
        "MEMBER_REPOSITORY_DB": partition.member_repository_db,
        "OUTCOMES_IDENTIFICATION_DB": partition.outcomes_identification_db,
        "POLICY_IDS": ",".join(str(policy) for policy in partition.policies),
        "DB_HOST": connection.host or "",
        "DB_PORT": "" if connection.port is None else str(connection.port),
        "DB_USER": connection.login or "",
        "DB_PASSWORD": connection.password or "",
        "PIPELINE_DAG_ID": dag_id,
        "PIPELINE_RUN_ID": run_id,
    }
    if partition.volume:
        env["STORAGE_VOLUME"] = partition.volume
    return env


@dataclass
class RunningCommand:
    """A started program: ``wait()`` streams its output; ``kill()`` ends its whole process group."""

    name: str
    process: subprocess.Popen
    logger: logging.Logger = log
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL_LINES))

    def _pump(self, stream: IO[str], level: int, keep: bool) -> None:
        for line in stream:
            line = line.rstrip("\n")
            self.logger.log(level, "[%s] %s", self.name, line)
            if keep and line.strip():
                self.stderr_tail.append(line)

    def wait(self, timeout: float | None = None) -> int:
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        pumps = [
            threading.Thread(target=self._pump, args=(self.process.stdout, logging.INFO, False), daemon=True),
            threading.Thread(target=self._pump, args=(self.process.stderr, logging.WARNING, True), daemon=True),
        ]
        for pump in pumps:
            pump.start()
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise CommandFailed(f"{self.name} ran longer than {timeout:.0f}s and was killed") from None
        for pump in pumps:
            pump.join(timeout=5)
        return code

    def kill(self) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after a grace period."""
        if self.process.poll() is not None:
            return
        pgid = self.process.pid  # the program leads its own session, so its pid is the group id
        self.logger.warning("Stopping %s (process group %s)", self.name, pgid)
        for sig, grace in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, 5)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue


def start_command(name: str, argv: Sequence[str], env: Mapping[str, str], cwd: str | None = None,
                  logger: logging.Logger = log) -> RunningCommand:
    """Start ``argv`` (no shell) in a new session, with exactly ``env`` as its environment."""
    logger.info("Starting %s: %s", name, " ".join(argv))
    logger.info("Environment names passed: %s", ", ".join(sorted(env)))
    process = subprocess.Popen(
        list(argv), env=dict(env), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        errors="replace", bufsize=1, start_new_session=True,
    )
    return RunningCommand(name, process, logger)


def check_exit(running: RunningCommand, code: int) -> None:
    """Raise ``CommandFailed`` on a non-zero exit; the last stderr lines are repeated in the task log
    (next to the failure, where the two output streams no longer interleave), never in the exception."""
    if code == 0:
        running.logger.info("%s finished", running.name)
        return
    reason = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
    tail = " | ".join(running.stderr_tail) or "(no stderr)"
    running.logger.error("%s %s; last stderr lines: %s", running.name, reason, tail)
    raise CommandFailed(f"{running.name} {reason}; its output is in the task log")
