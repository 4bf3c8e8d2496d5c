"""Writing a batch of mapped applications: each application one unit, its rows in every table and its
``processing_log`` row together, in one transaction per batch. A database error on a batch (a key collision,
a value a column refuses) is narrowed down by halving the batch until the applications that cause it are
found; they are logged as failed, the others land."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from pipelines.common.database.bulk import bulk_insert
from pipelines.common.database.errors import describe_refusal, is_connection_error, is_database_error
from pipelines.xml_mapping.documents import INSERTION, VALIDATION, Failure
from pipelines.xml_mapping.mapper import MappedApplication
from pipelines.xml_mapping.target_tables import STATUS_FAILED, STATUS_SUCCESS, TargetSchema

log = logging.getLogger(__name__)

LOG_COLUMNS = ("app_id", "status", "failure_reason", "session_id")


class _BatchRefused(Exception):
    """A database error on a batch that narrowing can attribute to applications."""

    def __init__(self, table: str, exc: BaseException) -> None:
        super().__init__(table)
        self.table, self.exc = table, exc

    def describe(self) -> str:
        return describe_refusal(self.exc, self.table)


def _group_rows(apps: list[MappedApplication], order: list[str]) -> list[tuple[str, tuple[str, ...], list[tuple]]]:
    """(table, columns, rows) per table in insertion order, rows of equal column sets together."""
    by_table: dict[str, dict[tuple[str, ...], list[tuple]]] = {}
    for app in apps:
        for table, rows in app.rows.items():
            groups = by_table.setdefault(table, {})
            for row in rows:
                columns = tuple(row)
                groups.setdefault(columns, []).append(tuple(row.values()))
    out = []
    for table in order + [t for t in by_table if t not in order]:
        for columns, rows in by_table.get(table, {}).items():
            out.append((table, columns, rows))
    return out


class Writer:
    """Writes batches of mapped applications with the engine's bulk path."""

    def __init__(self, target: TargetSchema, contact_tables: set[str], session_id: str | None) -> None:
        self.target = target
        self.contact_tables = contact_tables
        self.session_id = session_id

    def _log_rows(self, conn: sa.Connection, landed: list[MappedApplication], failures: list[Failure]) -> None:
        rows = [(app.app_id, STATUS_SUCCESS, None, self.session_id) for app in landed]
        rows += [(failure.app_id, STATUS_FAILED, failure.reason, self.session_id) for failure in failures]
        if rows:
            bulk_insert(conn, self.target.processing_log, LOG_COLUMNS, rows)

    def _commit(self, conn: sa.Connection, apps: list[MappedApplication], failures: list[Failure]) -> None:
        with conn.begin():
            for table, columns, rows in _group_rows(apps, self.target.order):
                try:
                    bulk_insert(conn, self.target.tables[table], columns, rows)
                except Exception as exc:
                    if is_connection_error(exc, conn.dialect) or not is_database_error(exc, conn.dialect):
                        raise
                    raise _BatchRefused(table, exc) from exc
            self._log_rows(conn, apps, failures)

    # -- checks and narrowing --------------------------------------------------------------------------
    def owned_con_ids(self, conn: sa.Connection, apps: list[MappedApplication]) -> list[Failure]:
        """Applications whose con_id another application owns (in the database or earlier in the batch)."""
        wanted = {con_id for app in apps for con_id in app.con_ids}
        owners: dict[int, int] = {}
        ids = sorted(wanted)
        for name in self.contact_tables:
            table = self.target.tables[name]
            for start in range(0, len(ids), 1000):
                chunk = ids[start:start + 1000]
                owners.update(conn.execute(sa.select(table.c.con_id, table.c.app_id)
                                           .where(table.c.con_id.in_(chunk))).all())
        conn.rollback()
        failures = []
        for app in apps:
            taken = [(con_id, owners[con_id]) for con_id in app.con_ids
                     if con_id in owners and owners[con_id] != app.app_id]
            if taken:
                named = ", ".join(f"con_id {con_id} belongs to app_id {owner}" for con_id, owner in taken[:3])
                failures.append(Failure(app.app_id, VALIDATION, named))
            else:
                for con_id in app.con_ids:
                    owners.setdefault(con_id, app.app_id)
        return failures

    def write(self, conn: sa.Connection, apps: list[MappedApplication], failures: list[Failure]
              ) -> tuple[list[MappedApplication], list[Failure]]:
        """Commit a batch; returns (landed applications, failures including those narrowed down)."""
        refused = self.owned_con_ids(conn, apps) if self.contact_tables else []
        if refused:
            bad = {failure.app_id for failure in refused}
            apps = [app for app in apps if app.app_id not in bad]
            failures = failures + refused
        try:
            self._commit(conn, apps, failures)
            return apps, failures
        except _BatchRefused as exc:
            log.warning("A batch of %d applications was refused (%s): narrowing it down", len(apps), exc.describe())
        landed: list[MappedApplication] = []
        narrowed: list[Failure] = []
        self._narrow(conn, apps, landed, narrowed)
        all_failures = failures + narrowed
        with conn.begin():
            self._log_rows(conn, [], all_failures)
        return landed, all_failures

    def _narrow(self, conn: sa.Connection, apps: list[MappedApplication], landed: list[MappedApplication],
                failed: list[Failure]) -> None:
        """Halve until each refused application is alone; every half that goes through is committed."""
        if not apps:
            return
        try:
            self._commit(conn, apps, [])
            landed.extend(apps)
            return
        except _BatchRefused as exc:
            if len(apps) == 1:
                failed.append(Failure(apps[0].app_id, INSERTION, exc.describe()))
                return
        middle = len(apps) // 2
        self._narrow(conn, apps[:middle], landed, failed)
        self._narrow(conn, apps[middle:], landed, failed)
