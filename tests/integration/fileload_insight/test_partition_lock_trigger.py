"""The triggerer's side of a run-lock wait, on PostgreSQL: the trigger fires when the lock is released, taken
over by another run or turns stale, never while nothing changed, and it survives a serialize round trip (what
the triggerer stores and rebuilds)."""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import asdict

import pytest
from airflow.sdk.serde import deserialize, serialize

from pipelines.fileload_insight.locks import LockRequest, open_lock_store
from pipelines.fileload_insight.triggers import PartitionLockChangeTrigger

pytestmark = pytest.mark.integration

CONN_ID = "fli_trigger_test"
WAITER = LockRequest(partition="a", dag_id="pup_fileload__a", run_id="waiting_run", with_flag=False,
                     stale_after_seconds=3600)
PATIENCE = 1.5  # how long a trigger that must not fire is watched (it polls every 0.1 s)


@pytest.fixture
def outcomes_db(database_factory, set_connection):
    db = database_factory("postgres")
    set_connection(CONN_ID, db.airflow_conn())
    return db


def hold(db, run_id: str, *, with_flag: bool = False, dag_id: str = "gr_insight__a") -> None:
    holder = LockRequest(partition="a", dag_id=dag_id, run_id=run_id, with_flag=with_flag, stale_after_seconds=3600)
    with open_lock_store(CONN_ID, db.name) as store:
        store.ensure_tables()
        assert store.try_acquire(holder).acquired


def release(db, run_id: str, *, with_flag: bool = False, dag_id: str = "gr_insight__a") -> None:
    with open_lock_store(CONN_ID, db.name) as store:
        assert store.release("a", dag_id, run_id, with_flag)[1]


def trigger_waiting(db, request: LockRequest = WAITER) -> PartitionLockChangeTrigger:
    """The trigger a blocked setup defers with, rebuilt from its serialized form as the triggerer does."""
    with open_lock_store(CONN_ID, db.name) as store:
        waited_on = store.state(request)
    trigger = PartitionLockChangeTrigger(conn_id=CONN_ID, database=db.name, request=asdict(request),
                                         waited_on=waited_on, poll_seconds=0.1)
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**deserialize(serialize(kwargs)))


async def first_event(trigger: PartitionLockChangeTrigger, change=None) -> dict | None:
    """The trigger's first event; ``change()`` runs once the trigger was seen not firing for ``PATIENCE``.
    None when the trigger fired before the change (it must not)."""
    events = trigger.run()
    pending = asyncio.ensure_future(anext(events))
    if change is not None:
        done, _ = await asyncio.wait({pending}, timeout=PATIENCE)
        if done:
            return None
        await asyncio.to_thread(change)
    event = await asyncio.wait_for(pending, timeout=60)
    await events.aclose()
    return event.payload


def test_fires_when_the_holder_releases_the_partition(outcomes_db):
    hold(outcomes_db, "holding_run")
    trigger = trigger_waiting(outcomes_db)
    assert trigger.waited_on == [["gr_insight__a", "holding_run", False], None]

    assert asyncio.run(first_event(trigger, lambda: release(outcomes_db, "holding_run"))) == {"state": [None, None]}


def test_fires_when_another_run_took_the_partition_in_between(outcomes_db):
    hold(outcomes_db, "holding_run")
    trigger = trigger_waiting(outcomes_db)

    def hand_over() -> None:  # in one statement: a trigger reading in between would rightly fire on "free"
        outcomes_db.scalar("UPDATE partition_run_lock SET run_id = 'faster_run' RETURNING 1")

    assert asyncio.run(first_event(trigger, hand_over)) == {"state": [["gr_insight__a", "faster_run", False], None]}


def test_fires_when_the_lock_it_waits_on_turns_stale(outcomes_db):
    hold(outcomes_db, "holding_run")
    trigger = trigger_waiting(outcomes_db)

    def age() -> None:
        outcomes_db.scalar("UPDATE partition_run_lock SET acquired_at = now() - interval '2 hours' RETURNING 1")

    assert asyncio.run(first_event(trigger, age)) == {"state": [["gr_insight__a", "holding_run", True], None]}


def test_an_insight_run_also_waits_for_the_lock_flag(outcomes_db):
    insight = LockRequest(partition="a", dag_id="gr_insight__a", run_id="waiting_run", with_flag=True,
                          stale_after_seconds=3600)
    hold(outcomes_db, "manual_insight", with_flag=True, dag_id="gr_insight__b")
    release(outcomes_db, "manual_insight", with_flag=False, dag_id="gr_insight__b")  # its flag stays
    trigger = trigger_waiting(outcomes_db, insight)
    assert trigger.waited_on == [None, ["gr_insight__b", "manual_insight", False]]

    def clear_flag() -> None:
        outcomes_db.scalar("DELETE FROM insight_lock_flag RETURNING 1")

    assert asyncio.run(first_event(trigger, clear_flag)) == {"state": [None, None]}


def test_fires_at_once_when_the_partition_was_freed_before_the_trigger_started(outcomes_db):
    hold(outcomes_db, "holding_run")
    trigger = trigger_waiting(outcomes_db)
    release(outcomes_db, "holding_run")

    assert asyncio.run(first_event(trigger)) == {"state": [None, None]}
