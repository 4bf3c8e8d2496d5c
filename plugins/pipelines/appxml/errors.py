"""The staging family's exceptions: permanent (no retry helps), so a task fails at once with one line."""

from __future__ import annotations

from pipelines.common.partitions import PartitionError


class StagingError(PartitionError):
    """A user error (bad settings, refused source or rows): one line, no retry helps."""


class BatchRefused(StagingError):
    """The staging table refused a batch's rows (integrity or data error): the same rows would be refused
    on every retry. The message names the partition, the app_id range and the error class, never the
    driver's text (SQL Server quotes the offending value in it)."""
