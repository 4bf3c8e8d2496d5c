"""Per-partition metrics (the original extractor's names: processed, duration_s, rows_per_sec, finished_at)
and their aggregate (the original ``metrics/appxml_aggregate.json``). Ids only, never document content."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pipelines.appxml.reduce import ID_MISMATCH, Reduced
from pipelines.common.partitions import PartitionProgress, peak_rss_mb

MAX_IDS_PER_REASON = 20


@dataclass
class PartitionMetrics(PartitionProgress):
    """A staging partition's counts: staged, skipped by reason, ids that disagree with their document."""

    resumed_after: int | None = None
    staged: int = 0
    source_bytes: int = 0
    staged_bytes: int = 0
    skipped: Counter = field(default_factory=Counter)
    skipped_app_ids: dict[str, list[int]] = field(default_factory=dict)
    id_mismatch: int = 0
    id_mismatch_app_ids: list[int] = field(default_factory=list)

    def _skip(self, reason: str, app_id: int) -> None:
        self.skipped[reason] += 1
        ids = self.skipped_app_ids.setdefault(reason, [])
        if len(ids) < MAX_IDS_PER_REASON:
            ids.append(app_id)

    def _mismatch(self, app_id: int) -> None:
        # Staged under the row's app_id all the same; counted so someone can look at the source.
        self.id_mismatch += 1
        if len(self.id_mismatch_app_ids) < MAX_IDS_PER_REASON:
            self.id_mismatch_app_ids.append(app_id)

    def record_batch(self, results: list[Reduced], source_bytes: int, staged_bytes: int, last_app_id: int) -> None:
        """Counts of one committed batch."""
        self.batches += 1
        self.processed += len(results)
        self.source_bytes += source_bytes
        self.staged_bytes += staged_bytes
        self.last_app_id = last_app_id
        for result in results:
            if result.skip_reason:
                self._skip(result.skip_reason, result.app_id)
            else:
                self.staged += 1
                if result.id_mismatch:
                    self._mismatch(result.app_id)

    def progress_counts(self, elapsed_s: float) -> tuple[str, str]:
        mb_per_s = self.source_bytes / 1e6 / elapsed_s if elapsed_s > 0 else 0.0
        return f"{self.staged} staged, {sum(self.skipped.values())} skipped", f", {mb_per_s:.1f} MB/s"

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition": self.label, "mod": self.mod, "rem": self.rem, "batch": self.batch,
            "resumed_after": self.resumed_after, "last_app_id": self.last_app_id,
            "processed": self.processed, "staged": self.staged, "batches": self.batches,
            "skipped": dict(self.skipped), "skipped_app_ids": self.skipped_app_ids,
            ID_MISMATCH: self.id_mismatch, "id_mismatch_app_ids": self.id_mismatch_app_ids,
            "source_bytes": self.source_bytes, "staged_bytes": self.staged_bytes,
            "duration_s": self.duration_s, "rows_per_sec": self.per_second,
            "finished_at": self.finished_at, "peak_rss_mb": peak_rss_mb(),
        }


def aggregate(partitions: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over partitions (the fields of the original appxml_aggregate.json, plus bytes)."""
    skipped: Counter = Counter()
    for part in partitions:
        skipped.update(part.get("skipped", {}))
    processed = sum(part["processed"] for part in partitions)
    # Partitions run side by side: the slowest one bounds the elapsed time.
    duration = max((part["duration_s"] for part in partitions), default=0.0)
    return {
        # The run's modulus, not the partitions it ran: {"workers": 4, "remainders": [2]} runs one of four.
        "workers": max((part["mod"] for part in partitions), default=0),
        "partitions_run": len(partitions),
        "processed": processed,
        "staged": sum(part["staged"] for part in partitions),
        "skipped": dict(skipped),
        ID_MISMATCH: sum(part[ID_MISMATCH] for part in partitions),
        "source_bytes": sum(part["source_bytes"] for part in partitions),
        "staged_bytes": sum(part["staged_bytes"] for part in partitions),
        "duration_s": duration,
        "rows_per_sec": round(processed / duration, 1) if duration > 0 else 0.0,
        "rows_per_sec_per_worker": {part["partition"]: part["rows_per_sec"] for part in partitions},
        "finished_at": max((part["finished_at"] or "" for part in partitions), default=None),
        "partitions": partitions,
    }


def format_table(partitions: list[dict[str, Any]]) -> str:
    """A fixed-width per-partition table for the task log."""
    header = f"{'partition':<12}{'processed':>10}{'staged':>10}{'skipped':>9}{'rows/s':>9}{'MB':>9}{'dur s':>9}"
    lines = [header, "-" * len(header)]
    for part in sorted(partitions, key=lambda p: p["rem"]):
        skipped = sum(part["skipped"].values())
        lines.append(f"{part['partition']:<12}{part['processed']:>10}{part['staged']:>10}{skipped:>9}"
                     f"{part['rows_per_sec']:>9.1f}{part['source_bytes'] / 1e6:>9.1f}{part['duration_s']:>9.1f}")
    return "\n".join(lines)
