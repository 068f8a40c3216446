"""Rollouts simulated end to end with the real Deployment sync logic over an in-memory
API (tests/controllers/deployment_fakes.py) and fake time: a toy ReplicaSet
controller/kubelet makes pods exist at once and become available one step later."""

from __future__ import annotations

import asyncio
import copy
from typing import Any, Callable

from runtime.client.resources import DEPLOYMENTS, REPLICASETS
from runtime.controllers.deployment.math import max_surge, max_unavailable
from runtime.controllers.deployment.rollout import sync_deployment
from runtime.controllers.deployment.sync import DeploymentSync
from runtime.controllers.deployment.util import (
    HASH_LABEL,
    REVISION,
    REVISION_HISTORY,
    pod_template_hash,
)
from runtime.util.conditions import get_condition
from runtime.util.meta import controller_ref
from tests.controllers.deployment_fakes import (
    FakeClient,
    FakeClock,
    FakeRecorder,
    deployment,
)

Obj = dict[str, Any]


class Sim:
    def __init__(self, d: Obj) -> None:
        self.clock = FakeClock()
        self.client = FakeClient(self.clock)
        self.recorder = FakeRecorder()
        self.ops = DeploymentSync(client=self.client, recorder=self.recorder,  # type: ignore[arg-type]
                                  clock=self.clock)
        self.uid = self.client.put(DEPLOYMENTS, d)["metadata"]["uid"]
        self.history: list[tuple[int, int, int]] = []  # (spec total, available, pods alive)

    def d(self) -> Obj:
        return copy.deepcopy(self.client.objects[("deployments", "ns", "web")])

    def rss(self) -> list[Obj]:
        return [rs for rs in self.client.list_of(REPLICASETS, "ns")
                if (controller_ref(rs) or {}).get("uid") == self.uid]

    def edit(self, fn: Callable[[Obj], None]) -> None:
        d = self.d()
        fn(d)
        asyncio.run(self.client.update(DEPLOYMENTS, d))

    def kubelet_step(self) -> None:
        """Pods of every ReplicaSet exist at once; they are available a step later."""
        for rs in self.rss():
            spec, st = rs["spec"]["replicas"], rs.get("status") or {}
            avail = min(spec, int(st.get("replicas") or 0))
            rs["status"] = {"replicas": spec, "readyReplicas": avail,
                            "availableReplicas": avail,
                            "observedGeneration": rs["metadata"]["generation"]}
            asyncio.run(self.client.update_status(REPLICASETS, rs))

    def step(self) -> float | None:
        again = asyncio.run(sync_deployment(self.ops, self.d(), self.rss(), {}))
        rss = self.rss()
        self.history.append((sum(r["spec"]["replicas"] for r in rss),
                             sum((r.get("status") or {}).get("availableReplicas", 0) for r in rss),
                             sum((r.get("status") or {}).get("replicas", 0) for r in rss)))
        self.kubelet_step()
        self.clock.advance(1)
        return again

    def run(self, steps: int = 60) -> None:
        for _ in range(steps):
            self.step()
            if self.done():
                self.step()  # one more to record the completion condition
                return
        raise AssertionError(f"rollout did not finish: {self.history[-5:]}")

    def done(self) -> bool:
        d = self.d()
        st, n = d.get("status") or {}, d["spec"]["replicas"]
        return (st.get("updatedReplicas") == n == st.get("replicas") == st.get("availableReplicas")
                and st.get("observedGeneration") == d["metadata"]["generation"])


def set_image(image: str) -> Callable[[Obj], None]:
    def fn(d: Obj) -> None:
        d["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return fn


def test_first_rollout_creates_revision_one_and_completes():
    sim = Sim(deployment(replicas=3))
    sim.run()
    d, [rs] = sim.d(), sim.rss()
    assert d["metadata"]["annotations"][REVISION] == "1"
    assert rs["metadata"]["annotations"][REVISION] == "1"
    assert rs["metadata"]["name"] == f"web-{rs['metadata']['labels'][HASH_LABEL]}"
    assert rs["spec"]["selector"]["matchLabels"][HASH_LABEL] == rs["metadata"]["labels"][HASH_LABEL]
    assert sim.recorder.messages("ScalingReplicaSet") == [
        f"Scaled up replica set {rs['metadata']['name']} from 0 to 3"]
    prog = get_condition(d["status"], "Progressing")
    assert prog["reason"] == "NewReplicaSetAvailable"
    assert prog["message"] == f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.'
    assert get_condition(d["status"], "Available")["reason"] == "MinimumReplicasAvailable"


def test_rolling_update_respects_surge_and_unavailability():
    sim = Sim(deployment(replicas=10, surge="25%", unavailable="25%"))
    sim.run()
    sim.history.clear()
    sim.edit(set_image("img:2"))
    sim.run()
    d = sim.d()
    surge, unavailable = max_surge(d), max_unavailable(d)
    assert (surge, unavailable) == (3, 2)
    for spec_total, available, _ in sim.history:
        assert spec_total <= 10 + surge
        assert available >= 10 - unavailable
    assert max(s for s, _, _ in sim.history) == 13  # it did use the surge
    by_rev = {r["metadata"]["annotations"][REVISION]: r["spec"]["replicas"] for r in sim.rss()}
    assert by_rev == {"1": 0, "2": 10}
    assert d["metadata"]["annotations"][REVISION] == "2"
    msgs = sim.recorder.messages("ScalingReplicaSet")
    assert any(m.startswith("Scaled down replica set") and m.endswith("to 0") for m in msgs)


def test_rollback_reuses_the_old_replica_set_with_a_new_revision():
    sim = Sim(deployment(replicas=2))
    sim.run()
    sim.edit(set_image("img:2"))
    sim.run()
    old = next(r for r in sim.rss() if r["metadata"]["annotations"][REVISION] == "1")
    # what `kubectl rollout undo` does: copy the template back, minus the hash label
    template = copy.deepcopy(old["spec"]["template"])
    del template["metadata"]["labels"][HASH_LABEL]
    sim.edit(lambda d: d["spec"].__setitem__("template", template))
    sim.run()
    assert len(sim.rss()) == 2  # no third ReplicaSet
    back = next(r for r in sim.rss() if r["metadata"]["uid"] == old["metadata"]["uid"])
    assert back["metadata"]["annotations"][REVISION] == "3"
    assert back["metadata"]["annotations"][REVISION_HISTORY] == "1"
    assert back["spec"]["replicas"] == 2
    assert sim.d()["metadata"]["annotations"][REVISION] == "3"


def test_recreate_never_runs_old_and_new_together():
    sim = Sim(deployment(replicas=3, strategy="Recreate"))
    sim.run()
    sim.history.clear()
    sim.edit(set_image("img:2"))
    for _ in range(30):
        sim.step()
        rss = sim.rss()
        live = [r for r in rss if (r.get("status") or {}).get("replicas")]
        assert len(live) <= 1
        if sim.done():
            break
    assert sim.done()


def test_scaling_mid_rollout_is_proportional():
    sim = Sim(deployment(replicas=10, surge=3, unavailable=2))
    sim.run()
    sim.edit(set_image("img:2"))
    sim.step()  # new RS scaled to 3 (surge)
    sim.edit(lambda d: d["spec"].__setitem__("replicas", 20))
    sim.step()
    sizes = sorted(r["spec"]["replicas"] for r in sim.rss())
    assert sizes == [5, 18]  # 13 -> 23 (20 + surge 3), spread in proportion: 3:10
    sim.run()
    assert sorted(r["spec"]["replicas"] for r in sim.rss()) == [0, 20]


def test_paused_deployment_does_not_roll_out_and_says_so():
    sim = Sim(deployment(replicas=2))
    sim.run()
    sim.edit(lambda d: d["spec"].__setitem__("paused", True))
    sim.edit(set_image("img:2"))
    for _ in range(3):
        sim.step()
    assert len(sim.rss()) == 1
    assert get_condition(sim.d()["status"], "Progressing")["reason"] == "DeploymentPaused"
    sim.edit(lambda d: d["spec"].__setitem__("paused", False))
    sim.step()
    assert get_condition(sim.d()["status"], "Progressing")["reason"] in (
        "DeploymentResumed", "NewReplicaSetCreated", "ReplicaSetUpdated")
    sim.run()
    assert len(sim.rss()) == 2


def test_progress_deadline_exceeded_with_fake_time():
    sim = Sim(deployment(replicas=2, progressDeadlineSeconds=30))
    sim.run()
    sim.edit(set_image("img:2"))
    sim.step()
    # pods of the new ReplicaSet never become available from now on
    for _ in range(5):
        asyncio.run(sync_deployment(sim.ops, sim.d(), sim.rss(), {}))
    again = asyncio.run(sync_deployment(sim.ops, sim.d(), sim.rss(), {}))
    assert again is not None and 0 < again <= 31  # look again when the deadline passes
    sim.clock.advance(31)
    asyncio.run(sync_deployment(sim.ops, sim.d(), sim.rss(), {}))
    cond = get_condition(sim.d()["status"], "Progressing")
    assert (cond["status"], cond["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert cond["message"].endswith("has timed out progressing.")


def test_revision_history_limit_cleans_old_replica_sets():
    sim = Sim(deployment(replicas=1, revisionHistoryLimit=1))
    sim.run()
    for i in range(2, 5):
        sim.edit(set_image(f"img:{i}"))
        sim.run()
    revs = sorted(int(r["metadata"]["annotations"][REVISION]) for r in sim.rss())
    assert revs == [3, 4]


def test_hash_collision_bumps_collision_count():
    sim = Sim(deployment(replicas=1))
    sim.run()
    [rs] = sim.rss()
    squatter = copy.deepcopy(rs)
    squatter["metadata"] = {"name": "web-placeholder", "namespace": "ns"}
    sim.edit(set_image("img:2"))
    # someone else's ReplicaSet already has the name the new one would get
    h = pod_template_hash(sim.d()["spec"]["template"])
    squatter["metadata"]["name"] = f"web-{h}"
    sim.client.put(REPLICASETS, squatter)
    try:
        sim.step()
    except Exception as e:  # the sync fails once, like upstream's, and is retried
        assert "already exists" in str(e)
    assert sim.d()["status"]["collisionCount"] == 1
    sim.run()
    names = {r["metadata"]["name"] for r in sim.rss()}
    assert f"web-{pod_template_hash(sim.d()['spec']['template'], 1)}" in names
