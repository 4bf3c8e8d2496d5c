"""Per-partition metrics of the mapping: applications mapped and failed (by stage, most frequent reasons),
rows per table, values a conversion changed. Ids and counts only, never document content."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pipelines.common.partitions import PartitionProgress, peak_rss_mb
from pipelines.xml_mapping.documents import Failure
from pipelines.xml_mapping.mapper import MappedApplication

MAX_IDS = 20
MAX_REASONS = 5
_DIGITS = re.compile(r"\d+")


def reason_kind(text: str) -> str:
    """A failure reason with its ids blanked, so equal causes count together."""
    return _DIGITS.sub("#", text)


@dataclass
class MappingMetrics(PartitionProgress):
    """A mapping partition's counts: applications mapped and failed (by stage, most frequent reasons), rows
    per table."""

    unit: ClassVar[str] = "applications"
    rate_unit: ClassVar[str] = "apps/s"

    succeeded: int = 0
    failed: int = 0
    failed_by_stage: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    failed_app_ids: list[int] = field(default_factory=list)
    rows_per_table: Counter = field(default_factory=Counter)
    # (table, column, kind) -> values a conversion changed or could not convert, in the mapped applications
    conversions: Counter = field(default_factory=Counter)

    def record(self, landed: list[MappedApplication], failures: list[Failure], last_app_id: int | None) -> None:
        self.batches += 1
        self.processed += len(landed) + len(failures)
        self.succeeded += len(landed)
        self.failed += len(failures)
        for app in landed:
            for table, rows in app.rows.items():
                self.rows_per_table[table] += len(rows)
            self.conversions.update(app.conversions)
        for failure in failures:
            self.failed_by_stage[failure.stage] += 1
            self.reasons[reason_kind(failure.reason)] += 1
            if len(self.failed_app_ids) < MAX_IDS:
                self.failed_app_ids.append(failure.app_id)
        if last_app_id is not None:
            self.last_app_id = last_app_id

    def progress_counts(self, elapsed_s: float) -> tuple[str, str]:
        return f"{self.succeeded} mapped, {self.failed} failed", ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition": self.label, "mod": self.mod, "rem": self.rem, "batch": self.batch,
            "processed": self.processed, "succeeded": self.succeeded, "failed": self.failed,
            "failed_by_stage": dict(self.failed_by_stage), "top_reasons": [{"reason": reason, "count": count}
                                                        for reason, count in self.reasons.most_common(MAX_REASONS)],
            "failed_app_ids": self.failed_app_ids, "rows_per_table": dict(self.rows_per_table),
            "conversions": conversions_by_column(self.conversions),
            "batches": self.batches, "last_app_id": self.last_app_id, "duration_s": self.duration_s,
            "docs_per_sec": self.per_second, "finished_at": self.finished_at, "peak_rss_mb": peak_rss_mb(),
        }


def conversions_by_column(counts: Counter) -> dict[str, dict[str, int]]:
    """``{"table.column": {kind: values}}``, sorted, for XCom and the summary."""
    by_column: dict[str, dict[str, int]] = {}
    for (table, column, kind), count in sorted(counts.items()):
        by_column.setdefault(f"{table}.{column}", {})[kind] = count
    return by_column


def aggregate(partitions: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals over partitions: applications mapped and failed, failures by stage with the most frequent
    reasons, rows per table, conversions."""
    stages: Counter = Counter()
    reasons: Counter = Counter()
    rows: Counter = Counter()
    conversions: Counter = Counter()
    for part in partitions:
        stages.update(part["failed_by_stage"])
        reasons.update({entry["reason"]: entry["count"] for entry in part["top_reasons"]})
        rows.update(part["rows_per_table"])
        # a partition mapped by a release that did not count conversions yet has none
        conversions.update({(column, kind): count for column, kinds in part.get("conversions", {}).items()
                            for kind, count in kinds.items()})
    duration = max((part["duration_s"] for part in partitions), default=0.0)
    processed = sum(part["processed"] for part in partitions)
    return {
        "partitions": len(partitions), "processed": processed,
        "mapped": sum(part["succeeded"] for part in partitions),
        "failed": sum(part["failed"] for part in partitions),
        "failed_by_stage": dict(stages),
        "top_reasons": [{"reason": reason, "count": count} for reason, count in reasons.most_common(MAX_REASONS)],
        "rows_per_table": dict(sorted(rows.items())), "duration_s": duration,
        "docs_per_sec": round(processed / duration, 1) if duration > 0 else 0.0,
        "failed_app_ids": sorted(i for part in partitions for i in part["failed_app_ids"])[:MAX_IDS],
        "conversions": {f"{column} {kind}": count for (column, kind), count in sorted(conversions.items())},
    }
