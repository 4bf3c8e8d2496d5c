"""PUP_fileload's own lockfile, qualified by partition (``pup_fileload.<p>.lock``).

The program creates and holds the lockfile itself (its PID on the first line, possibly an flock), so
the task only looks: it refuses to start while a live process holds the file, and removes a lockfile
left behind by a process that no longer exists, which would otherwise block every later run.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from pipelines.fileload_insight.errors import LockfileHeld

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LockfileState:
    path: Path
    exists: bool
    pid: int | None = None
    pid_alive: bool = False
    flocked: bool = False

    @property
    def held(self) -> bool:
        return self.pid_alive or self.flocked


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _read_pid(path: Path) -> int | None:
    try:
        first_line = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[:1]
    except OSError:
        return None
    return int(first_line[0]) if first_line and first_line[0].isdigit() else None


def _flocked(path: Path) -> bool:
    """True when another process holds an flock on the file."""
    try:
        with path.open("rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    return True
                raise
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
    except FileNotFoundError:
        return False


def inspect_lockfile(path: Path) -> LockfileState:
    if not path.exists():
        return LockfileState(path, exists=False)
    pid = _read_pid(path)
    return LockfileState(path, exists=True, pid=pid, pid_alive=pid is not None and pid_alive(pid),
                         flocked=_flocked(path))


def ensure_lockfile_free(path: Path) -> LockfileState:
    """Raise ``LockfileHeld`` if a live process holds ``path``; remove it if its holder is gone."""
    state = inspect_lockfile(path)
    if state.held:
        holder = f"process {state.pid}" if state.pid_alive else "a process holding an flock"
        raise LockfileHeld(f"{path.name} is held by {holder}: another PUP_fileload instance runs on this partition")
    if state.exists:
        log.warning("Removing stale lockfile %s (pid %s no longer running)", path.name, state.pid)
        path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return state
