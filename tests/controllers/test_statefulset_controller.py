"""The StatefulSet controller against a real API server, with the test playing the
kubelet: ordered creation, claims and their retention-policy owners, status,
ControllerRevisions and a partitioned update."""

from __future__ import annotations

from typing import Any

from runtime.client.resources import CONTROLLERREVISIONS, PODS, PVCS, STATEFULSETS
from runtime.controllers.statefulset.controller import StatefulSetController
from tests.controllers.workload_harness import Harness, run, settle

GVRS = (STATEFULSETS, PODS, PVCS, CONTROLLERREVISIONS)


def sts(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "serviceName": "web",
                     "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "img:1"}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                         "accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "1Gi"}}}}],
                     **spec}}


def names(h: Harness, gvr: Any, ns: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in h.informers.get(gvr).list(ns)
                  if not o["metadata"].get("deletionTimestamp"))


async def ready_all(h: Harness, ns: str) -> None:
    for p in h.informers.get(PODS).list(ns):
        if p["status"].get("phase") != "Running":
            await h.set_pod_phase(p, "Running", ready=True)


def test_ordered_creation_claims_and_retention(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, StatefulSetController) as h:
            await h.client.create(STATEFULSETS, sts(persistentVolumeClaimRetentionPolicy={
                "whenDeleted": "Delete", "whenScaled": "Delete"}), ns)
            await settle(h, ns, "web", GVRS)
            assert names(h, PODS, ns) == ["web-0"]  # web-1 waits for web-0 to be ready
            claim = h.cached(PVCS, ns, "data-web-0")
            assert claim is not None
            assert [r["kind"] for r in claim["metadata"]["ownerReferences"]] == ["StatefulSet"]
            await ready_all(h, ns)
            await settle(h, ns, "web", GVRS)
            assert names(h, PODS, ns) == ["web-0", "web-1"]
            await ready_all(h, ns)
            await settle(h, ns, "web", GVRS)
            st = (await h.client.get(STATEFULSETS, "web", ns))["status"]
            assert (st["replicas"], st["readyReplicas"], st["updatedReplicas"]) == (2, 2, 2)
            assert st["currentRevision"] == st["updateRevision"]
            (rev,) = h.informers.get(CONTROLLERREVISIONS).list(ns)
            assert rev["metadata"]["name"] == st["updateRevision"] and rev["revision"] == 1
            web1 = h.cached(PODS, ns, "web-1")
            assert web1 is not None
            obj = await h.client.get(STATEFULSETS, "web", ns)
            obj["spec"]["replicas"] = 1
            await h.client.update(STATEFULSETS, obj)
            await settle(h, ns, "web", GVRS)
            assert names(h, PODS, ns) == ["web-0"]
            claim1 = h.cached(PVCS, ns, "data-web-1") or {}
            owners = claim1["metadata"]["ownerReferences"]
            assert [(r["kind"], r["uid"]) for r in owners] == [("Pod", web1["metadata"]["uid"])]
            created = {m for r, m in await h.events(ns) if r == "SuccessfulCreate"}
            assert {"create Claim data-web-0 Pod web-0 in StatefulSet web success",
                    "create Pod web-0 in StatefulSet web successful"} <= created
    run(go())


def test_partitioned_update(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, StatefulSetController) as h:
            await h.client.create(STATEFULSETS, sts(replicas=3, podManagementPolicy="Parallel",
                                                    updateStrategy={"type": "RollingUpdate",
                                                                    "rollingUpdate": {
                                                                        "partition": 1}}), ns)
            await settle(h, ns, "web", GVRS)
            assert names(h, PODS, ns) == ["web-0", "web-1", "web-2"]  # Parallel: all at once
            await ready_all(h, ns)
            await settle(h, ns, "web", GVRS)
            obj = await h.client.get(STATEFULSETS, "web", ns)
            obj["spec"]["template"]["spec"]["containers"][0]["image"] = "img:2"
            await h.client.update(STATEFULSETS, obj)
            for _ in range(4):  # delete, recreate, become ready, next: bounded
                await settle(h, ns, "web", GVRS)
                await ready_all(h, ns)
            await settle(h, ns, "web", GVRS)
            images = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"]
                      for p in h.informers.get(PODS).list(ns)}
            assert images == {"web-0": "img:1", "web-1": "img:2", "web-2": "img:2"}
            st = (await h.client.get(STATEFULSETS, "web", ns))["status"]
            assert st["updatedReplicas"] == 2 and st["currentReplicas"] == 1
            assert st["currentRevision"] != st["updateRevision"]
    run(go())
