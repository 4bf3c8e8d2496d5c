"""The mapping family's exceptions. A ``MappingRunError`` stops a partition before it writes and no retry
helps (bad settings, a target table that cannot hold the contracts' values); a ``ContractError`` is a
contract that cannot be used; a ``MappingError`` is one document the contract cannot map (a ``failed``
processing_log row, never a stopped run)."""

from __future__ import annotations

from pipelines.common.config import ConfigError
from pipelines.common.partitions import PartitionError


class MappingRunError(PartitionError):
    """Settings the partition cannot run with; one line."""


class TargetSchemaMismatch(MappingRunError):
    """Existing target tables that cannot hold what the contracts write; one line listing every column."""


class ContractError(ConfigError):
    """A mapping contract that cannot be used; one line naming the file and the mapping."""


class MappingError(Exception):
    """A document the contract cannot map; the message names ids and attributes, never values."""
