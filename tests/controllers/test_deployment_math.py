"""The rolling-update arithmetic, against upstream's documented numbers."""

from __future__ import annotations

import pytest

from runtime.controllers.deployment.math import (
    cleanup_unhealthy_plan,
    find_active_or_latest,
    is_saturated,
    max_scaled_down,
    max_surge,
    max_unavailable,
    new_rs_new_replicas,
    proportional_plan,
    resolve_fenceposts,
    scale_down_old_plan,
    scaled_value,
)
from tests.controllers.deployment_fakes import Obj, deployment, replica_set


@pytest.mark.parametrize("value,total,up,expected", [
    (3, 10, True, 3), ("25%", 10, True, 3), ("25%", 10, False, 2), ("0%", 10, True, 0),
    ("100%", 7, False, 7), ("33%", 3, True, 1), ("33%", 3, False, 0), ("50%", 1, True, 1),
    ("50%", 1, False, 0), ("10%", 0, True, 0),
])
def test_scaled_value_rounds_surge_up_and_unavailable_down(value, total, up, expected):
    assert scaled_value(value, total, up) == expected


def test_scaled_value_rejects_bad_strings():
    with pytest.raises(ValueError):
        scaled_value("5", 10, True)
    with pytest.raises(ValueError):
        scaled_value(None, 10, True)


@pytest.mark.parametrize("surge,unavailable,desired,expected", [
    ("25%", "25%", 10, (3, 2)), ("25%", "25%", 1, (1, 0)), ("0%", "0%", 10, (0, 1)),
    (0, "10%", 5, (0, 1)), (1, 0, 3, (1, 0)), (None, 2, 4, (0, 2)), ("25%", "25%", 0, (0, 1)),
])
def test_fenceposts(surge, unavailable, desired, expected):
    assert resolve_fenceposts(surge, unavailable, desired) == expected


def test_max_unavailable_is_capped_and_zero_for_recreate():
    assert max_unavailable(deployment(replicas=3, unavailable=5, surge=0)) == 3
    assert max_unavailable(deployment(replicas=0)) == 0
    assert max_unavailable(deployment(strategy="Recreate")) == 0
    assert max_surge(deployment(strategy="Recreate")) == 0
    assert max_surge(deployment(replicas=10)) == 3


def test_new_replica_set_scales_up_within_surge():
    d = deployment(replicas=10, surge=3, unavailable=2)
    old = replica_set("old", 10)
    new = replica_set("new", 0)
    assert new_rs_new_replicas(d, [old, new], new) == 3       # 10 + 3 surge
    assert new_rs_new_replicas(d, [replica_set("old", 8), new], new) == 5
    full = replica_set("new", 3)
    assert new_rs_new_replicas(d, [replica_set("old", 10), full], full) == 3  # at 13 already
    assert new_rs_new_replicas(d, [replica_set("old", 0), replica_set("new", 9)],
                               replica_set("new", 9)) == 10  # never past replicas
    assert new_rs_new_replicas(deployment(strategy="Recreate", replicas=4), [new], new) == 4


def test_old_scale_down_keeps_min_available():
    # upstream's example: 10 replicas, maxUnavailable 2, maxSurge 3
    d = deployment(replicas=10, surge=3, unavailable=2)
    old, new = replica_set("old", 10), replica_set("new", 3, available=0)
    assert max_scaled_down(d, [old, new], new) == 13 - 8 - 3 == 2
    assert scale_down_old_plan(d, [old, new], [old]) == [(old, 8)]
    new_ready = replica_set("new", 3, available=3)
    assert max_scaled_down(d, [old, new_ready], new_ready) == 5
    assert scale_down_old_plan(d, [old, new_ready], [old]) == [(old, 5)]


def test_unhealthy_old_pods_go_first_oldest_first():
    a = replica_set("a", 4, available=1, created="2024-01-01T00:00:00Z")
    b = replica_set("b", 4, available=2, created="2024-01-02T00:00:00Z")
    assert cleanup_unhealthy_plan([b, a], 4) == [(a, 1), (b, 3)]
    assert cleanup_unhealthy_plan([b, a], 2) == [(a, 2)]
    assert cleanup_unhealthy_plan([replica_set("c", 3)], 5) == []


def test_saturation_and_active_or_latest():
    d = deployment(replicas=3)
    sat = replica_set("n", 3, **{"deployment.kubernetes.io/desired-replicas": "3"})
    assert is_saturated(d, sat)
    assert not is_saturated(d, replica_set("n", 3, available=2, **{
        "deployment.kubernetes.io/desired-replicas": "3"}))
    assert not is_saturated(d, replica_set("n", 3))
    old = replica_set("o", 0, created="2024-01-01T00:00:00Z")
    newer = replica_set("p", 0, created="2024-01-02T00:00:00Z")
    assert find_active_or_latest(None, [old, newer]) is newer
    active = replica_set("q", 2)
    assert find_active_or_latest(active, [old]) is active
    assert find_active_or_latest(active, [replica_set("r", 1)]) is None


def _new_and_old(new_size: int, old_size: int, max_replicas: int) -> tuple[Obj, Obj]:
    """A rollout's two active replica sets, both annotated as sized for `max_replicas`."""
    ann = {"deployment.kubernetes.io/max-replicas": str(max_replicas)}
    return (replica_set("new", new_size, created="2024-01-02T00:00:00Z", **ann),
            replica_set("old", old_size, created="2024-01-01T00:00:00Z", **ann))


def _sizes(plan: list[tuple[Obj, int]]) -> dict[str, int]:
    return {rs["metadata"]["name"]: n for rs, n in plan}


def test_proportional_scaling_mid_rollout():
    # upstream's TestScale "proportional scaling: 5 -> 10" shape: two active replica sets
    # sized for 5 (+25% surge = 7) get 10 (+3 = 13) in proportion.
    new, old = _new_and_old(4, 3, max_replicas=7)
    plan, op = proportional_plan(deployment(replicas=10), new, [old])
    assert op == "up" and _sizes(plan) == {"new": 7, "old": 6}  # 13 in all


def test_proportional_scale_down_and_zero():
    new, old = _new_and_old(8, 5, max_replicas=13)
    plan, op = proportional_plan(deployment(replicas=5), new, [old])
    assert op == "down" and sum(_sizes(plan).values()) == 7  # 5 + ceil(25% of 5)
    zero, _ = proportional_plan(deployment(replicas=0), new, [old])
    assert [n for _, n in zero] == [0, 0]
