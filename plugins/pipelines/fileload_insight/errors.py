"""The family's errors. ``PermanentError`` subclasses (a ``ConfigError`` is one) fail their task at once: no
retry can fix them; the others keep the task's retries. Every message is one line naming the partition,
program or file, never what a program printed."""

from __future__ import annotations

from pipelines.common.config import ConfigError
from pipelines.common.errors import PermanentError


class PartitionConfigError(ConfigError):
    """The partitions file is missing or invalid; the message is one line."""


class UnsupportedLockEngine(PermanentError, ValueError):
    """The partition's connection is not one the lock tables can live on (SQL Server, or PostgreSQL)."""


class TakeoverRefused(PermanentError):
    """A human rejected taking over a stale lock, or did not answer in time."""


class LockfileHeld(RuntimeError):
    """Another PUP_fileload instance is running on this partition."""


class CommandFailed(RuntimeError):
    """The program exited non-zero; the message names it and its exit code, never its output."""
