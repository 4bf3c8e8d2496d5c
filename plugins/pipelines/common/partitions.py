"""What the ``app_id % mod`` partition jobs share (appxml staging, XML mapping): their one error base, the
partition's settings and their checks, the remainders a run plans, the partition's label, its running counts
and progress line, and the process's peak memory. Ids and counts only, never content. The database side
(engines, reads, bulk writes, the read -> transform -> write overlap) is ``pipelines.common.database``."""

from __future__ import annotations

import logging
import resource
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar, NoReturn

from pipelines.common.errors import PermanentError

log = logging.getLogger(__name__)


class PartitionError(PermanentError):
    """A partition job cannot run as asked (bad settings, a refused source or rows): one line, no retry helps.
    Each family subclasses it."""


def partition_label(rem: int, mod: int) -> str:
    """How a partition is named in logs, alerts and the Airflow UI: ``rem=3/8``."""
    return f"rem={rem}/{mod}"


def plan_remainders(workers: int, remainders: Iterable[int] | None,
                    error: type[PartitionError] = PartitionError) -> list[int]:
    """The remainders a run maps or stages: all of 0..workers-1 when none (or an empty list) are given, else
    the given ones, sorted, once each; ``error`` names a bad ``workers`` or remainder."""
    if workers < 1:
        raise error(f"workers must be at least 1, got {workers}")
    wanted = list(remainders or ())
    bad = sorted(r for r in wanted if not 0 <= r < workers)
    if bad:
        raise error(f"remainders {bad} lie outside 0..{workers - 1} for workers={workers}")
    return sorted(set(wanted)) if wanted else list(range(workers))


class Labelled:
    """A partition's name from its ``rem`` and ``mod``."""

    mod: int
    rem: int

    @property
    def label(self) -> str:
        return partition_label(self.rem, self.mod)


@dataclass(frozen=True)
class PartitionSpec(Labelled):
    """What every partition run is asked: its remainder of ``mod``, rows per batch and transaction, and a
    limit (0 = all). A family adds its own settings and names its ``error``."""

    error: ClassVar[type[PartitionError]] = PartitionError

    mod: int = 1
    rem: int = 0
    batch: int = 1000
    limit: int = 0

    def refuse(self, message: str) -> NoReturn:
        raise self.error(message) from None

    def check_partition(self) -> None:
        """The family's error naming the first bad partition setting, before anything is read or written."""
        if self.mod < 1:
            self.refuse(f"mod (workers) must be at least 1, got {self.mod}")
        if not 0 <= self.rem < self.mod:
            self.refuse(f"rem must lie in 0..{self.mod - 1} for mod {self.mod}, got {self.rem}")
        if self.batch < 1:
            self.refuse(f"batch must be at least 1, got {self.batch}")
        if self.limit < 0:
            self.refuse(f"limit must be 0 (all) or positive, got {self.limit}")

    def planned_total(self, pending: int) -> int:
        """What this run will go through of the ``pending`` rows: all of them, or its limit."""
        return min(pending, self.limit) if self.limit else pending


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
class PartitionProgress(Labelled):
    """The counts every partition job keeps: what it was asked (mod, rem, batch), how far it got and how
    fast. A family's metrics add their own counts to these."""

    #: For the progress line: what a batch counts and the unit of its rate.
    unit: ClassVar[str] = "rows"
    rate_unit: ClassVar[str] = "rows/s"

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

    def progress_counts(self, elapsed_s: float) -> tuple[str, str]:
        """The family's counts after the items done (``"5 staged, 1 skipped"``) and after the rate (``""``)."""
        return "", ""

    def progress_line(self, elapsed_s: float) -> str:
        """``rem=1/4 batch 3: 1,500/6,000 (25.0%) rows, 1,480 staged, 20 skipped, 480.2 rows/s, ETA 0:00:09``."""
        done, rate, eta = self.progress(elapsed_s)
        counts, after_rate = self.progress_counts(elapsed_s)
        return (f"{self.label} batch {self.batches}: {done} {self.unit}, {counts}, {rate:.1f} {self.rate_unit}"
                f"{after_rate}{eta}")


def log_progress(progress: PartitionProgress, elapsed_s: float) -> None:
    """One line per committed batch: items done, the family's counts, rate, and an ETA when the partition's
    size is known."""
    log.info("%s", progress.progress_line(elapsed_s))
