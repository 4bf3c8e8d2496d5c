"""The partition counts both ``app_id % mod`` families keep: label, progress line, rate and end time."""

from __future__ import annotations

from datetime import datetime

from pipelines.common.partitions import PartitionProgress, partition_label, peak_rss_mb


def test_label_names_the_remainder_and_the_modulus():
    assert partition_label(3, 8) == "rem=3/8" == PartitionProgress(mod=8, rem=3, batch=100).label


def test_progress_of_a_known_total_gives_percentage_rate_and_eta():
    progress = PartitionProgress(mod=4, rem=1, batch=100, total=10_000, processed=2_500)

    assert progress.progress(elapsed_s=50) == ("2,500/10,000 (25.0%)", 50.0, ", ETA 0:02:30")


def test_progress_without_a_total_or_time_has_no_eta():
    assert PartitionProgress(mod=1, rem=0, batch=1, processed=7).progress(elapsed_s=0) == ("7", 0.0, "")
    assert PartitionProgress(mod=1, rem=0, batch=1, total=0).progress(elapsed_s=3) == ("0", 0.0, "")


def test_finish_records_duration_rate_and_a_utc_end_time():
    progress = PartitionProgress(mod=2, rem=0, batch=10, processed=31)

    progress.finish(2.0)

    assert (progress.duration_s, progress.per_second) == (2.0, 15.5)
    assert datetime.fromisoformat(progress.finished_at).utcoffset().total_seconds() == 0


def test_peak_memory_is_a_positive_number_of_megabytes():
    assert peak_rss_mb() > 1
