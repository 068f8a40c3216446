"""The disruption controller's cleanup of stale DisruptionTarget conditions (upstream's
syncStalePodDisruption), against a real API server with a fake clock: a condition still
True two minutes after it was set, on a pod nobody deleted, turns False."""

from __future__ import annotations

import datetime as dt
from typing import Any

from runtime.client.resources import PODS
from runtime.controllers.disruption import budget
from runtime.controllers.disruption.controller import DisruptionController
from runtime.util.times import format_time
from tests.controllers.workload_harness import Harness, run

T0 = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.UTC)


def target(reason: str = "EvictionByEvictionAPI", status: str = "True",
           at: dt.datetime = T0) -> dict[str, Any]:
    return {"type": "DisruptionTarget", "status": status, "reason": reason,
            "message": "Eviction API: evicting", "lastTransitionTime": format_time(at)}


def test_wait_until_stale() -> None:
    def pod(cond: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"metadata": {"name": "p", **extra},
                "status": {"phase": "Running", "conditions": [cond]}}
    assert budget.stale_disruption_wait(pod(target()), T0) == 120
    assert budget.stale_disruption_wait(pod(target()), T0 + dt.timedelta(minutes=5)) == 0
    assert budget.stale_disruption_wait(pod(target(status="False")), T0) is None
    assert budget.stale_disruption_wait(pod(target(reason="TerminationByKubelet")), T0) is None
    assert budget.stale_disruption_wait(
        pod(target(), deletionTimestamp="2026-06-01T12:00:00Z"), T0) is None


def test_a_stale_condition_is_turned_false(server, ns) -> None:
    async def body() -> None:
        async with Harness(server.kubeconfig, DisruptionController, start=T0) as h:
            created = await h.client.create(PODS, {
                "metadata": {"name": "p", "namespace": ns},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
            written = await h.client.patch(PODS, "p", {"status": {"conditions": [target()]}},
                                           ns, subresource="status")
            await h.synced(PODS, written)
            key = f"{ns}/p"
            assert await h.controller.clean_stale_disruption(key) == 120  # not yet
            h.clock.advance(121)
            assert await h.controller.clean_stale_disruption(key) is None
            got = await h.client.get(PODS, "p", ns)
            [cond] = [c for c in got["status"]["conditions"] if c["type"] == "DisruptionTarget"]
            assert cond["status"] == "False"
            assert cond["lastTransitionTime"] == format_time(h.clock())
            assert created["metadata"]["uid"] == got["metadata"]["uid"]
    run(body())
