"""Run a partition's program to completion outside a task, the way ``PartitionCommandOperator`` does."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from pipelines.fileload_insight.programs import check_exit, log, start_command


def run_command(name: str, argv: Sequence[str], env: Mapping[str, str], timeout: float | None = None,
                logger: logging.Logger = log) -> None:
    """Run to completion; raise ``CommandFailed`` on a non-zero exit."""
    running = start_command(name, argv, env, logger=logger)
    check_exit(running, running.wait(timeout))
