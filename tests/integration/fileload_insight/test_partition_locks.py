"""The run lock and the Insight lock flag on PostgreSQL (standing in for SQL Server)."""

from __future__ import annotations

import threading

import psycopg
import pytest

from devtools.localdb import PG_HOST, PG_PORT, PG_USER
from pipelines.fileload_insight.locks import LockRequest, LockStore

pytestmark = pytest.mark.integration

HOUR = 3600


@pytest.fixture
def outcomes_db(database_factory):
    return database_factory("postgres")


@pytest.fixture
def store_factory(outcomes_db):
    opened: list[LockStore] = []

    def make() -> LockStore:
        connection = psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=outcomes_db.name)
        store = LockStore(connection, "postgres")
        store.ensure_tables()
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.connection.close()


def request(run_id: str, dag_id: str = "gr_insight__a", with_flag: bool = True, force: bool = False) -> LockRequest:
    return LockRequest(partition="a", dag_id=dag_id, run_id=run_id, with_flag=with_flag,
                       stale_after_seconds=HOUR, force_unlock=force)


def plant_flag(db, holder: str, age_seconds: int) -> None:
    db.scalar("INSERT INTO insight_lock_flag (partition_name, dag_id, holder, set_at) "
              "VALUES ('a', 'gr_insight__a', %s, now() - make_interval(secs => %s)) RETURNING 1",
              (holder, age_seconds))


def rows(db) -> tuple[int, int]:
    return (db.scalar("SELECT count(*) FROM partition_run_lock"), db.scalar("SELECT count(*) FROM insight_lock_flag"))


def test_second_run_waits_until_the_first_releases(store_factory, outcomes_db):
    store = store_factory()

    first = store.try_acquire(request("run_1"))
    blocked = store.try_acquire(request("run_2", dag_id="pup_fileload__a", with_flag=False))

    assert first.acquired
    assert not blocked.acquired
    assert (blocked.blocked_by.dag_id, blocked.blocked_by.run_id) == ("gr_insight__a", "run_1")
    assert store.flag_holder("a").run_id == "run_1"

    assert store.release("a", "gr_insight__a", "run_1", with_flag=True) == (True, True)
    assert rows(outcomes_db) == (0, 0)
    assert store.try_acquire(request("run_2", dag_id="pup_fileload__a", with_flag=False)).acquired
    assert rows(outcomes_db) == (1, 0)


def test_retrying_the_holder_keeps_its_lock(store_factory):
    store = store_factory()

    assert store.try_acquire(request("run_1")).acquired
    assert store.try_acquire(request("run_1")).acquired
    assert store.run_lock_holder("a").run_id == "run_1"


def test_only_the_holder_can_release(store_factory, outcomes_db):
    store = store_factory()
    store.try_acquire(request("run_1"))

    assert store.release("a", "gr_insight__a", "someone_else", with_flag=True) == (False, False)
    assert rows(outcomes_db) == (1, 1)


def test_exactly_one_of_many_simultaneous_runs_gets_the_partition(store_factory, outcomes_db):
    stores = [store_factory() for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    results: dict[int, bool] = {}

    def contend(index: int) -> None:
        barrier.wait()
        results[index] = stores[index].try_acquire(request(f"run_{index}")).acquired

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results.values()) == [False] * 7 + [True]
    winner = next(index for index, won in results.items() if won)
    assert stores[0].run_lock_holder("a").run_id == f"run_{winner}"
    assert stores[0].flag_holder("a").run_id == f"run_{winner}"


def test_fresh_foreign_flag_is_waited_for_and_nothing_is_taken(store_factory, outcomes_db):
    store = store_factory()
    plant_flag(outcomes_db, "manual_insight", age_seconds=60)

    attempt = store.try_acquire(request("run_1", force=True))

    assert not attempt.acquired
    assert attempt.stale_flag is None
    assert attempt.blocked_by.run_id == "manual_insight"
    assert rows(outcomes_db) == (0, 1)  # the run lock taken in the same transaction was rolled back


def test_stale_flag_is_reported_and_kept_without_force_unlock(store_factory, outcomes_db):
    store = store_factory()
    plant_flag(outcomes_db, "crashed_run", age_seconds=2 * HOUR)

    attempt = store.try_acquire(request("run_1"))

    assert not attempt.acquired
    assert attempt.stale_flag.run_id == "crashed_run"
    assert attempt.stale_flag.age_seconds >= 2 * HOUR - 5
    assert rows(outcomes_db) == (0, 1)


def test_force_unlock_clears_a_stale_flag_and_takes_the_partition(store_factory, outcomes_db):
    store = store_factory()
    plant_flag(outcomes_db, "crashed_run", age_seconds=2 * HOUR)

    attempt = store.try_acquire(request("run_1", force=True))

    assert attempt.acquired
    assert attempt.stale_flag.run_id == "crashed_run"
    assert [h.run_id for h in attempt.forced] == ["crashed_run"]
    assert store.flag_holder("a").run_id == "run_1"


def test_force_unlock_takes_over_only_a_stale_run_lock(store_factory, outcomes_db):
    store = store_factory()
    store.try_acquire(request("old_run", dag_id="pup_fileload__a", with_flag=False))

    assert not store.try_acquire(request("run_1", force=True)).acquired  # fresh: still waited for
    outcomes_db.scalar("UPDATE partition_run_lock SET acquired_at = now() - interval '2 hours' RETURNING 1")
    attempt = store.try_acquire(request("run_1", force=True))

    assert attempt.acquired
    assert [h.run_id for h in attempt.forced] == ["old_run"]
    assert store.run_lock_holder("a").run_id == "run_1"
