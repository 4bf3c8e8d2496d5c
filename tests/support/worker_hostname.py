"""``[core] hostname_callable`` for the e2e harness's Celery workers: several workers on one machine
share its hostname, so each is named by the ``PIPELINES_WORKER_NAME`` its harness process gives it."""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("PIPELINES_WORKER_NAME") or socket.getfqdn()
