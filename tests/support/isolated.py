"""Run a function over inputs in a child process, so that an input which ends a process (SIGSEGV, abort,
exhausted memory, a hang) fails the test that gave it instead of killing pytest.

    with IsolatedRunner("tests.support.xml_fuzz:reduce_outcome") as runner:
        assert runner.run([b"<a/>", b"<b>"]) == [("ok", "no_custdata"), ("ok", "malformed")]

The child is started once (``spawn``: a fresh interpreter, no state forked from pytest) and serves batches
until one ends it; the next batch starts a new child. Each outcome is ``("ok", value)`` or
``("raised", "Class: message")``; a child that dies or hangs raises ``ChildDied`` naming the exit signal.
"""

from __future__ import annotations

import importlib
import multiprocessing
import resource
import signal
from collections.abc import Callable, Sequence
from contextlib import suppress
from multiprocessing.connection import Connection
from typing import Any

Outcome = tuple[str, Any]


class ChildDied(AssertionError):
    """The child process ended (or stopped answering) while it worked on a batch."""


def resolve(target: str) -> Callable[[Any], Any]:
    """``"package.module:function"`` -> the function."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _serve(conn: Connection, target: str, memory_bytes: int) -> None:
    # A runaway allocation becomes a MemoryError in the child rather than pressure on the whole machine.
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    func = resolve(target)
    while (batch := conn.recv()) is not None:
        outcomes: list[Outcome] = []
        for item in batch:
            try:
                outcomes.append(("ok", func(item)))
            except BaseException as exc:  # reported to the parent, which decides whether it is allowed
                outcomes.append(("raised", f"{type(exc).__name__}: {str(exc)[:200]}"))
        conn.send(outcomes)


class IsolatedRunner:
    def __init__(self, target: str, *, timeout_s: float = 120, memory_mb: int = 1536) -> None:
        self.target, self.timeout_s, self.memory_bytes = target, timeout_s, memory_mb * 2**20
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._conn: Connection | None = None

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(child, self.target, self.memory_bytes),
                                               daemon=True, name="isolated-runner")
        self._process.start()
        child.close()
        self._conn = parent

    def run(self, items: Sequence[Any]) -> list[Outcome]:
        """The outcome of ``target(item)`` for each item, computed in the child."""
        if self._process is None or not self._process.is_alive():
            self._start()
        assert self._conn is not None
        self._conn.send(list(items))
        try:
            if self._conn.poll(self.timeout_s):
                return self._conn.recv()
            reason = f"stopped answering for {self.timeout_s:.0f} s (killed)"
        except (EOFError, ConnectionError):
            reason = "ended"
        self._stop(kill=True)
        raise ChildDied(f"the child process {reason} while running {self.target} on a batch of "
                        f"{len(items)} input(s){self._exit_note()}")

    def _exit_note(self) -> str:
        code = self._process.exitcode if self._process is not None else None
        if code is None:
            return ""
        return f": killed by {signal.Signals(-code).name}" if code < 0 else f": exit code {code}"

    def _stop(self, kill: bool = False) -> None:
        if self._process is None or self._conn is None:
            return
        if kill:
            self._process.kill()
        else:
            with suppress(OSError, ValueError):
                self._conn.send(None)  # type: ignore[union-attr]
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=10)
        with suppress(OSError):
            self._conn.close()  # type: ignore[union-attr]
        self._conn = None

    def close(self) -> None:
        self._stop()
        self._process = None

    def __enter__(self) -> IsolatedRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
