"""The family's errors. ``PermanentError`` subclasses (a ``ConfigError`` is one) fail their task at once: no
retry can fix them; the others keep the task's retries. Every message is one line, never AWS's error text."""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException

from pipelines.common.config import ConfigError
from pipelines.common.errors import PermanentError


class FlywheelConfigError(ConfigError):
    """The configuration file or the selected environment is unusable; the message is one line."""


class InvalidRunSettings(PermanentError, ValueError):
    """A parameter value that must not reach AWS; the message is one line and names the parameter."""


class NoPartTables(PermanentError):
    """The register step left no ``part_*`` table in the catalog; there is nothing to repair."""


class GlueJobRunFailed(AirflowException):
    """A Glue job run ended without success; names the job, the run id and the final state only."""
