"""The family's errors. ``PermanentError`` subclasses fail their task at once (no retry can fix them); the
others keep the task's retries. Every message is one line naming the table or connection, never row values."""

from __future__ import annotations

from pipelines.common.errors import PermanentError


class BusinessHoursError(PermanentError):
    """The run would read production while the clinic is open."""


class ConnectionCheckError(PermanentError):
    """A database refused the connection test; the message names the connection, never its credentials."""


class UnknownTablesError(PermanentError, ValueError):
    """Requested table names that are not (safe) tables of the source."""


class PlanError(PermanentError, ValueError):
    """A configuration override that cannot apply to the table as it is."""


class IncompleteRunError(PermanentError):
    """Some planned tables did not reach validation (or there was no plan at all)."""


class TableMissingError(RuntimeError):
    """The planned table is gone from the database a stage reads."""


class TransformError(RuntimeError):
    """A transform cannot run as written (e.g. its output lacks the table's key)."""


class RowCountMismatch(RuntimeError):
    """Two stages disagree on a table's row count; the message names the table and both counts."""


class BusinessCheckFailed(RuntimeError):
    """A declared business total differs between the source and public; the message names the table, the
    check, the day and both totals (aggregates only)."""


class StageError(RuntimeError):
    """A stage failed for one table; names the table and stage, not the rows (the log has the cause)."""
