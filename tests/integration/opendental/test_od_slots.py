"""The run-time ``parallel`` param: at most that many table stages hold a slot at once (named locks on the
replica, released with the holder's session)."""

from __future__ import annotations

import threading

import pytest

from pipelines.opendental.slots import concurrency_slot

pytestmark = pytest.mark.integration


def test_a_third_stage_waits_until_one_of_two_slots_is_free(stack):
    release = threading.Event()
    holding: list[int] = []
    third_got: list[int] = []
    ready = threading.Barrier(3)

    def hold():
        with concurrency_slot(2, poll_seconds=0.05) as slot:
            holding.append(slot)
            ready.wait()
            release.wait(30)

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for thread in holders:
        thread.start()
    ready.wait(30)

    def third():
        with concurrency_slot(2, poll_seconds=0.05) as slot:
            third_got.append(slot)

    waiter = threading.Thread(target=third)
    waiter.start()
    waiter.join(1.0)
    assert sorted(holding) == [0, 1]
    assert third_got == []  # both slots taken: still waiting

    release.set()
    waiter.join(30)
    for thread in holders:
        thread.join(30)
    assert third_got in ([0], [1])
