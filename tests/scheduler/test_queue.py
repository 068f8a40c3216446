"""The scheduling queue: priority order, unschedulable pods, moves, backoff (fake clock)."""

from __future__ import annotations

import asyncio

from runtime.scheduler.queue import SchedulingQueue
from tests.scheduler.factory import pod


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pop_now(q: SchedulingQueue):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(q.pop(), 1))


def test_priority_then_arrival() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock)
    q.add(pod("low"))
    clock.now += 1
    q.add(pod("high", priority=100))
    clock.now += 1
    q.add(pod("low2"))
    assert [pop_now(q).key for _ in range(3)] == ["default/high", "default/low",
                                                  "default/low2"]


def test_unschedulable_waits_for_a_cluster_event_then_backs_off() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock, initial_backoff=1, max_backoff=10)
    q.add(pod("p"))
    qp = pop_now(q)
    q.requeue_unschedulable(qp, {"NodeResourcesFit"})
    assert q.pending() == {"active": 0, "backoff": 0, "unschedulable": 1}
    q.move_all()
    assert q.pending()["backoff"] == 1  # 1 s backoff after the first attempt
    clock.now += 1.5
    assert pop_now(q).attempts == 2


def test_move_during_the_cycle_is_not_lost() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock)
    q.add(pod("p"))
    qp = pop_now(q)
    q.move_all()  # a node appeared while the pod was being scheduled
    q.requeue_unschedulable(qp, {"NodeResourcesFit"})
    assert q.pending()["unschedulable"] == 0


def test_unschedulable_retried_after_max_duration() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock, max_unschedulable=60)
    q.add(pod("p"))
    q.requeue_unschedulable(pop_now(q), set())
    clock.now += 61
    assert pop_now(q).key == "default/p"


def test_spec_update_moves_and_delete_drops() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock, initial_backoff=1)
    q.add(pod("p"))
    q.requeue_unschedulable(pop_now(q), set())
    q.add(pod("p", tolerations=[{"operator": "Exists"}]))
    assert q.pending()["unschedulable"] == 0
    q.delete("default/p")
    assert q.pending() == {"active": 0, "backoff": 0, "unschedulable": 0}


def test_a_pod_deleted_while_scheduled_is_not_requeued() -> None:
    q = SchedulingQueue(clock=Clock())
    q.add(pod("p"))
    qp = pop_now(q)
    q.delete("default/p")
    q.requeue_backoff(qp)
    assert q.pending() == {"active": 0, "backoff": 0, "unschedulable": 0}
