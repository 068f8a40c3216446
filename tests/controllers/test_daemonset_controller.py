"""The DaemonSet controller against a real API server, with the test playing scheduler
and kubelet: pods pinned to labelled nodes, following nodes and taints, status, and a
rolling update one node at a time."""

from __future__ import annotations

import uuid
from typing import Any

from runtime.client.resources import CONTROLLERREVISIONS, DAEMONSETS, NODES, PODS
from runtime.controllers.daemonset.controller import DaemonSetController
from runtime.controllers.daemonset.nodes import target_node
from tests.controllers.workload_harness import Harness, caches_match, run, settle, until

GVRS = (DAEMONSETS, PODS, CONTROLLERREVISIONS)


def ds(label: str, **strategy: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, **strategy,
                     "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {
                         "nodeSelector": {"ds-test": label},
                         "containers": [{"name": "c", "image": "img:1"}]}}}}


def live(h: Harness, ns: str) -> dict[str, dict[str, Any]]:
    """Daemon pods not being deleted, by target node."""
    return {target_node(p) or "": p for p in h.informers.get(PODS).list(ns)
            if not p["metadata"].get("deletionTimestamp")}


async def run_pods(h: Harness, ns: str) -> None:
    """Bind (set nodeName) and start every pending pod, as scheduler and kubelet would."""
    for p in h.informers.get(PODS).list(ns):
        if p["status"].get("phase") == "Pending" and not p["metadata"].get("deletionTimestamp"):
            name = p["metadata"]["name"]
            await h.client.request("POST", PODS.path(ns, name, "binding"), body={
                "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                "target": {"kind": "Node", "name": target_node(p)}})
            bound = await h.synced(PODS, await h.client.get(PODS, name, ns))
            await h.set_pod_phase(bound, "Running", ready=True)


async def finish_deletions(h: Harness, ns: str) -> None:
    for p in h.informers.get(PODS).list(ns):
        if p["metadata"].get("deletionTimestamp"):
            await h.client.delete(PODS, p["metadata"]["name"], ns, grace_period_seconds=0)


def test_nodes_taints_status_and_rolling_update(server, ns):
    label = uuid.uuid4().hex[:8]
    names = [f"ds-{label}-{i}" for i in range(3)]

    async def go() -> None:
        async with Harness(server.kubeconfig, DaemonSetController) as h:
            for n in names[:2]:
                await h.client.create(NODES, {"metadata": {"name": n,
                                                           "labels": {"ds-test": label}}})
            try:
                await scenario(h)
            finally:
                for n in names:
                    try:
                        await h.client.delete(NODES, n)
                    except Exception:
                        pass

    async def scenario(h: Harness) -> None:
        await h.client.create(DAEMONSETS, ds(label), ns)
        await until(lambda: len(h.informers.get(NODES).list()) >= 2, what="nodes")
        await settle(h, ns, "agent", GVRS)
        assert sorted(live(h, ns)) == names[:2]
        await run_pods(h, ns)
        await settle(h, ns, "agent", GVRS)
        st = (await h.client.get(DAEMONSETS, "agent", ns))["status"]
        assert (st["desiredNumberScheduled"], st["numberReady"], st["updatedNumberScheduled"]) \
            == (2, 2, 2)
        # a third node joins; a NoExecute taint pushes the daemon off the first
        await h.client.create(NODES, {"metadata": {"name": names[2], "labels": {"ds-test": label}}})
        node0 = await h.client.get(NODES, names[0])
        node0["spec"] = {"taints": [{"key": "k", "effect": "NoExecute"}]}
        await h.client.update(NODES, node0)
        await caches_match(h, "", NODES)
        await settle(h, ns, "agent", GVRS)
        assert sorted(live(h, ns)) == names[1:]
        await finish_deletions(h, ns)
        await run_pods(h, ns)
        await settle(h, ns, "agent", GVRS)
        # a rolling update replaces one pod at a time (maxUnavailable 1)
        obj = await h.client.get(DAEMONSETS, "agent", ns)
        obj["spec"]["template"]["spec"]["containers"][0]["image"] = "img:2"
        await h.client.update(DAEMONSETS, obj)
        await settle(h, ns, "agent", GVRS)
        images = [p["spec"]["containers"][0]["image"] for p in live(h, ns).values()]
        assert sorted(images) == ["img:1"] and len(h.informers.get(PODS).list(ns)) == 2
        for _ in range(4):  # bounded: each round lets one old pod go and its successor run
            await finish_deletions(h, ns)
            await settle(h, ns, "agent", GVRS)
            await run_pods(h, ns)
            await settle(h, ns, "agent", GVRS)
        assert sorted(p["spec"]["containers"][0]["image"] for p in live(h, ns).values()) == [
            "img:2", "img:2"]
        st = (await h.client.get(DAEMONSETS, "agent", ns))["status"]
        assert (st["desiredNumberScheduled"], st["updatedNumberScheduled"],
                st["numberAvailable"]) == (2, 2, 2)

    run(go())
