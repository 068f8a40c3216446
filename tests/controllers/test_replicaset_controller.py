"""The ReplicaSet controller's reconcile against an in-memory API and hand-driven
informers, so a lagging watch can be staged: expectations must stop it from creating
or deleting the same pods twice."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from runtime.client.informer import key_of
from runtime.client.resources import GVR, PODS, REPLICASETS
from runtime.client.rest import ApiError
from runtime.controllers.context import ControllerContext
from runtime.controllers.replicaset.controller import ReplicaSetController
from tests.controllers.deployment_fakes import FakeClient, FakeClock, FakeRecorder

Obj = dict[str, Any]


class FakeInformer:
    """An informer whose cache the test fills: updates arrive when the test says so."""

    def __init__(self) -> None:
        self.store: dict[str, Obj] = {}
        self.handlers: list[Any] = []

    def add_handler(self, h: Any) -> None:
        self.handlers.append(h)

    def get(self, key: str) -> Obj | None:
        return self.store.get(key)

    def list(self, namespace: str | None = None) -> list[Obj]:
        return [o for o in self.store.values()
                if namespace is None or o["metadata"].get("namespace") == namespace]

    def deliver(self, obj: Obj, event: str | None = None) -> None:
        k = key_of(obj)
        old = self.store.get(k)
        if event == "delete":
            self.store.pop(k, None)
        else:
            self.store[k] = copy.deepcopy(obj)
            event = "update" if old is not None else "add"
        for h in self.handlers:
            h(event, old, obj)


class FakeFactory:
    def __init__(self) -> None:
        self.informers: dict[GVR, FakeInformer] = {}

    def get(self, gvr: GVR) -> FakeInformer:
        return self.informers.setdefault(gvr, FakeInformer())


class Harness:
    def __init__(self, replicas: int = 3) -> None:
        self.clock = FakeClock()
        self.client = FakeClient(self.clock)
        self.recorder = FakeRecorder()
        self.factory = FakeFactory()
        ctx = ControllerContext(client=self.client, informers=self.factory,  # type: ignore[arg-type]
                                recorder=self.recorder, clock=self.clock)  # type: ignore[arg-type]
        self.rsc = ReplicaSetController(ctx)
        self.rs = self.client.put(REPLICASETS, {
            "metadata": {"name": "fe", "namespace": "ns"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "fe"}},
                     "template": {"metadata": {"labels": {"app": "fe"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
        self.factory.get(REPLICASETS).deliver(self.rs)

    def reconcile(self) -> None:
        self.factory.get(REPLICASETS).deliver(self.client.objects[("replicasets", "ns", "fe")])
        asyncio.run(self.rsc.reconcile("ns/fe"))

    def pods(self) -> list[Obj]:
        return self.client.list_of(PODS, "ns")

    def sync_pods(self) -> None:
        """The watch catches up: deliver every pod in the store, drop the deleted ones."""
        pods = self.factory.get(PODS)
        live = {key_of(p) for p in self.pods()}
        for p in list(pods.store.values()):
            if key_of(p) not in live:
                pods.deliver(p, "delete")
        for p in self.pods():
            pods.deliver(p)


def test_lagging_watch_never_causes_double_creation():
    h = Harness(replicas=3)
    h.reconcile()
    assert len(h.pods()) == 3
    assert sorted(h.recorder.messages("SuccessfulCreate")) == sorted(
        f"Created pod: {p['metadata']['name']}" for p in h.pods())
    h.reconcile()  # the informer has seen none of the three yet
    assert len(h.pods()) == 3
    h.sync_pods()
    h.reconcile()
    assert len(h.pods()) == 3
    status = h.client.objects[("replicasets", "ns", "fe")]["status"]
    assert status["replicas"] == 3 and status["observedGeneration"] == 1


def test_lagging_watch_never_causes_double_deletion():
    h = Harness(replicas=3)
    h.reconcile()
    h.sync_pods()
    rs = h.client.objects[("replicasets", "ns", "fe")]
    rs["spec"]["replicas"] = 1
    h.reconcile()
    assert len(h.pods()) == 1
    h.reconcile()  # the deletions are not observed yet: nothing more is deleted
    assert len(h.pods()) == 1 and len(h.recorder.messages("SuccessfulDelete")) == 2
    h.sync_pods()
    h.reconcile()
    assert len(h.pods()) == 1


def test_creation_failures_use_slow_start_and_report_replica_failure():
    h = Harness(replicas=10)
    calls = []
    create = h.client.create

    async def failing(gvr: GVR, obj: Obj, namespace: str | None = None) -> Obj:
        if gvr == PODS:
            calls.append(1)
            if len(calls) >= 4:
                raise ApiError(403, "Forbidden", "exceeded quota")
        return await create(gvr, obj, namespace)
    h.client.create = failing  # type: ignore[method-assign]
    try:
        h.reconcile()
    except Exception as e:
        assert "exceeded quota" in str(e)
    assert len(h.pods()) == 3 and len(calls) == 7  # batches 1, 2, 4 (the last failed)
    cond = h.client.objects[("replicasets", "ns", "fe")]["status"]["conditions"][0]
    assert (cond["type"], cond["reason"]) == ("ReplicaFailure", "FailedCreate")
    assert h.recorder.messages("FailedCreate")[0] == "Error creating: exceeded quota"
    # the failed and skipped creations are not expected: after the watch catches up
    # with the three, the next sync creates the rest
    h.client.create = create  # type: ignore[method-assign]
    h.sync_pods()
    h.reconcile()
    assert len(h.pods()) == 10
    assert "conditions" not in h.client.objects[("replicasets", "ns", "fe")]["status"]
