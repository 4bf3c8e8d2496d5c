"""Progress lines for long copies: rows so far, rate and ETA, at most every few seconds."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class Progress:
    def __init__(self, label: str, total: int | None = None, every_seconds: float = 10.0) -> None:
        self.label, self.total, self.every = label, total, every_seconds
        self.rows = 0
        self.started = self._last = time.monotonic()

    def advance(self, rows: int) -> None:
        self.rows += rows
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        rate = self.rows / elapsed
        text = f"{self.label}: {self.rows:,} rows in {elapsed:.1f}s ({rate:,.0f} rows/s)"
        if self.total and rate > 0 and self.total > self.rows:
            text += f", ETA {(self.total - self.rows) / rate:.0f}s for ~{self.total:,}"
        return text

    def done(self) -> None:
        log.info("%s (done)", self.line())
