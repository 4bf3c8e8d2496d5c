"""What the ``app_id % mod`` partition jobs share (appxml staging, XML mapping): the partition's label, its
running counts and progress line, and the process's peak memory. Ids and counts only, never content."""

from __future__ import annotations

import resource
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


def partition_label(rem: int, mod: int) -> str:
    """How a partition is named in logs, alerts and the Airflow UI: ``rem=3/8``."""
    return f"rem={rem}/{mod}"


def peak_rss_mb() -> float:
    """This process's peak resident memory. Read from /proc (VmHWM): ``ru_maxrss`` survives exec on Linux, so
    a worker started by a large parent would report the parent's peak as its own."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


@dataclass
class PartitionProgress:
    """The counts every partition job keeps: what it was asked (mod, rem, batch), how far it got and how
    fast. A family's metrics add their own counts to these."""

    mod: int
    rem: int
    batch: int
    total: int | None = None
    processed: int = 0
    batches: int = 0
    last_app_id: int | None = None
    duration_s: float = 0.0
    per_second: float = 0.0
    finished_at: str | None = None

    @property
    def label(self) -> str:
        return partition_label(self.rem, self.mod)

    def finish(self, duration_s: float) -> None:
        self.duration_s = round(duration_s, 3)
        self.per_second = round(self.processed / duration_s, 1) if duration_s > 0 else 0.0
        self.finished_at = datetime.now(UTC).isoformat(timespec="seconds")

    def progress(self, elapsed_s: float) -> tuple[str, float, str]:
        """For the per-batch log line: how many are done (of the total, with the percentage, when known), the
        rate per second so far, and ``", ETA h:mm:ss"`` when it can be told (else empty)."""
        rate = self.processed / elapsed_s if elapsed_s > 0 else 0.0
        done, eta = f"{self.processed:,}", ""
        if self.total:
            done += f"/{self.total:,} ({100 * self.processed / self.total:.1f}%)"
            if rate > 0:
                eta = f", ETA {timedelta(seconds=round(max(self.total - self.processed, 0) / rate))}"
        return done, rate, eta
