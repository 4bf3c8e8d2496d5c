"""The per-partition run lock and the Insight lock flag, kept in the partition's OutcomesIdentification DB.

A run lock row says "run (dag_id, run_id) owns partition p from its first step to its last", so Insight
cannot compute on data that Fileload changes before Insight pushes its policies. The lock flag row is what
the policy-push side (ClientOps) reads: while it exists, no policies are pushed for that partition.

Both are taken in one transaction (all or nothing) and only by INSERT on the primary key or a conditional
UPDATE/DELETE naming the holder, so two runs can never both believe they hold a partition. Times are the
database's own clock, so the age of a lock does not depend on the worker's clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pipelines.common.errors import require_connection
from pipelines.common.paths import read_sql
from pipelines.fileload_insight.errors import UnsupportedLockEngine

log = logging.getLogger(__name__)

#: Airflow connection type -> directory of the SQL files under include/sql.
ENGINES = {"mssql": "mssql", "postgres": "postgres", "postgresql": "postgres"}


@dataclass(frozen=True)
class Holder:
    """Who holds a lock (a DAG run) and for how long, in seconds."""

    dag_id: str
    run_id: str
    age_seconds: int

    def __str__(self) -> str:
        return f"{self.dag_id} run {self.run_id} (for {self.age_seconds // 60} min)"


@dataclass(frozen=True)
class LockAttempt:
    """Outcome of one try: acquired, or the holder being waited for; a stale flag met on the way."""

    acquired: bool
    blocked_by: Holder | None = None
    stale_flag: Holder | None = None
    forced: tuple[Holder, ...] = ()


@dataclass(frozen=True)
class LockRequest:
    partition: str
    dag_id: str
    run_id: str
    with_flag: bool
    stale_after_seconds: int
    force_unlock: bool = False

    def params(self) -> dict[str, str]:
        return {"partition": self.partition, "dag_id": self.dag_id, "run_id": self.run_id}

    def owns(self, holder: Holder | None) -> bool:
        return holder is not None and (holder.dag_id, holder.run_id) == (self.dag_id, self.run_id)

    def is_stale(self, holder: Holder) -> bool:
        return holder.age_seconds >= self.stale_after_seconds


#: [run lock, Insight lock flag], each [dag_id, run_id, stale] of its holder or None (lists: trigger kwargs
#: go through JSON).
LockState = list[list[Any] | None]


def is_free(state: LockState) -> bool:
    return not any(state)


class LockStore:
    """The lock tables behind one DB-API connection (pymssql on SQL Server, psycopg on PostgreSQL)."""

    def __init__(self, connection: Any, engine: str) -> None:
        if engine not in set(ENGINES.values()):
            raise UnsupportedLockEngine(f"lock tables need SQL Server or PostgreSQL, not {engine!r}")
        self.connection = connection
        self.engine = engine

    def __enter__(self) -> LockStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.connection.close()

    def _sql(self, name: str) -> str:
        return read_sql(f"{self.engine}/fileload_insight/{name}.sql")

    def _execute(self, cursor: Any, name: str, params: dict[str, Any] | None = None) -> int:
        cursor.execute(self._sql(name), params)
        return cursor.rowcount

    def _holder(self, cursor: Any, name: str, partition: str) -> Holder | None:
        cursor.execute(self._sql(name), {"partition": partition})
        row = cursor.fetchone()
        return None if row is None else Holder(str(row[0]), str(row[1]), int(row[2]))

    def ensure_tables(self) -> None:
        """Create the lock tables if missing (idempotent DDL)."""
        cursor = self.connection.cursor()
        self._execute(cursor, "lock_tables")
        self.connection.commit()

    def run_lock_holder(self, partition: str) -> Holder | None:
        cursor = self.connection.cursor()
        try:
            return self._holder(cursor, "run_lock_holder", partition)
        finally:
            self.connection.commit()

    def flag_holder(self, partition: str) -> Holder | None:
        cursor = self.connection.cursor()
        try:
            return self._holder(cursor, "lock_flag_holder", partition)
        finally:
            self.connection.commit()

    def state(self, request: LockRequest) -> LockState:
        """What ``request`` waits on: each lock it needs as [dag_id, run_id, stale] of its holder, or None
        when free. A waiting run tries again once this changes (see ``triggers``)."""
        def key(holder: Holder | None) -> list[Any] | None:
            return None if holder is None else [holder.dag_id, holder.run_id, request.is_stale(holder)]

        flag = key(self.flag_holder(request.partition)) if request.with_flag else None
        return [key(self.run_lock_holder(request.partition)), flag]

    def try_acquire(self, request: LockRequest) -> LockAttempt:
        """Take the run lock (and for Insight the lock flag) in one transaction, or take nothing."""
        cursor = self.connection.cursor()
        try:
            attempt = self._acquire(cursor, request)
        except BaseException:
            self.connection.rollback()
            raise
        if attempt.acquired:
            self.connection.commit()
        else:
            self.connection.rollback()
        return attempt

    def _acquire(self, cursor: Any, request: LockRequest) -> LockAttempt:
        params = request.params()
        forced: list[Holder] = []
        self._execute(cursor, "take_run_lock", params)
        holder = self._holder(cursor, "run_lock_holder", request.partition)
        if not request.owns(holder):
            if holder is None or not (request.force_unlock and request.is_stale(holder)):
                return LockAttempt(acquired=False, blocked_by=holder)
            stolen = self._execute(cursor, "steal_run_lock", {
                **params, "old_dag_id": holder.dag_id, "old_run_id": holder.run_id})
            if stolen != 1:  # released or taken over meanwhile: try again on the next poke
                return LockAttempt(acquired=False, blocked_by=holder)
            forced.append(holder)
        if not request.with_flag:
            return LockAttempt(acquired=True, forced=tuple(forced))
        return self._set_flag(cursor, request, forced)

    def _set_flag(self, cursor: Any, request: LockRequest, forced: list[Holder]) -> LockAttempt:
        params = request.params()
        flag = self._holder(cursor, "lock_flag_holder", request.partition)
        stale = None
        if flag is not None and not request.owns(flag):
            if not request.is_stale(flag):
                # Set by something outside this run lock (a manual Insight run?): wait for it to clear.
                return LockAttempt(acquired=False, blocked_by=flag)
            stale = flag
            if not request.force_unlock:
                return LockAttempt(acquired=False, blocked_by=flag, stale_flag=flag)
            self._execute(cursor, "clear_lock_flag", {
                "partition": request.partition, "dag_id": flag.dag_id, "run_id": flag.run_id})
            forced.append(flag)
        self._execute(cursor, "set_lock_flag", params)
        if not request.owns(self._holder(cursor, "lock_flag_holder", request.partition)):
            return LockAttempt(acquired=False, blocked_by=flag, stale_flag=stale)
        return LockAttempt(acquired=True, stale_flag=stale, forced=tuple(forced))

    def release(self, partition: str, dag_id: str, run_id: str, with_flag: bool) -> tuple[bool, bool]:
        """Clear this run's flag (Insight) and run lock; returns (flag cleared, run lock released)."""
        params = {"partition": partition, "dag_id": dag_id, "run_id": run_id}
        cursor = self.connection.cursor()
        try:
            flag_cleared = bool(self._execute(cursor, "clear_lock_flag", params)) if with_flag else False
            released = bool(self._execute(cursor, "release_run_lock", params))
        except BaseException:
            self.connection.rollback()
            raise
        self.connection.commit()
        return flag_cleared, released


def engine_of(conn_type: str | None) -> str:
    try:
        return ENGINES[(conn_type or "").lower()]
    except KeyError:
        raise UnsupportedLockEngine(
            f"lock tables need an mssql (or postgres stand-in) connection, not {conn_type!r}") from None


def open_lock_store(conn_id: str, database: str) -> LockStore:
    """A LockStore on ``database`` of the host behind Airflow connection ``conn_id``."""
    from airflow.sdk import BaseHook

    require_connection(conn_id)
    connection = BaseHook.get_connection(conn_id)
    engine = engine_of(connection.conn_type)
    hook = connection.get_hook(hook_params={"schema": database})
    return LockStore(hook.get_conn(), engine)
