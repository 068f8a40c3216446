"""Ports of test/e2e/apimachinery/watch.go (Watchers), with upstream's waits: an expected
notification within 1 minute, an unexpected one looked for during 10 seconds."""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Callable

from kubernetes import client
from kubernetes.client.rest import ApiException

from conformance.framework import Ctx, conformance
from conformance.watching import Watch

LABEL = "watch-this-configmap"
W = "[sig-api-machinery] Watchers "


def _watch(c: Ctx, rv: str, *values: str) -> Watch:
    sel = f"{LABEL} in ({','.join(values)})"
    kw = {"resource_version": rv} if rv else {}
    return Watch(c.api, c.core.list_namespaced_config_map, "V1ConfigMap", c.ns,
                 label_selector=sel, **kw)


def _cm(name: str, value: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels={LABEL: value}))


def update_configmap(c: Ctx, name: str, mutate: Callable[[client.V1ConfigMap], None]) -> Any:
    """Get, change, update; retried on conflict like upstream's updateConfigMap."""
    for _ in range(5):
        cm = c.core.read_namespaced_config_map(name, c.ns)
        mutate(cm)
        try:
            return c.core.replace_namespaced_config_map(name, c.ns, cm)
        except ApiException as e:
            if e.status != 409:
                raise
    raise AssertionError(f"update of configmap {name} kept conflicting")


def _set(key: str, value: str) -> Callable[[client.V1ConfigMap], None]:
    def f(cm: client.V1ConfigMap) -> None:
        cm.data = {**(cm.data or {}), key: value}
    return f


def _relabel(value: str) -> Callable[[client.V1ConfigMap], None]:
    def f(cm: client.V1ConfigMap) -> None:
        cm.metadata.labels[LABEL] = value
    return f


def _seen(etype: str, obj: Any, watching: tuple[Watch, ...], other: Watch) -> None:
    """The watches on the object's label see the event; the other one does not (10 s)."""
    for w in watching:
        w.expect(etype, obj)
    other.expect_none(etype, obj)


def _in_order(w: Watch, *events: tuple[str, Any]) -> None:
    for etype, obj in events:
        w.expect(etype, obj)


@conformance(W + "should observe add, update, and delete watch notifications on configmaps "
             "[Conformance]", basename="watch")
def multiple_watchers(c: Ctx) -> None:
    a, b = "multiple-watchers-A", "multiple-watchers-B"
    wa, wb, wab = _watch(c, "", a), _watch(c, "", b), _watch(c, "", a, b)
    try:
        cma = c.core.create_namespaced_config_map(c.ns, _cm("e2e-watch-test-configmap-a", a))
        _seen("ADDED", cma, (wa, wab), wb)
        for n in ("1", "2"):
            cma = update_configmap(c, cma.metadata.name, _set("mutation", n))
            _seen("MODIFIED", cma, (wa, wab), wb)
        c.core.delete_namespaced_config_map(cma.metadata.name, c.ns)
        _seen("DELETED", None, (wa, wab), wb)
        cmb = c.core.create_namespaced_config_map(c.ns, _cm("e2e-watch-test-configmap-b", b))
        _seen("ADDED", cmb, (wb, wab), wa)
        c.core.delete_namespaced_config_map(cmb.metadata.name, c.ns)
        _seen("DELETED", None, (wb, wab), wa)
    finally:
        for w in (wa, wb, wab):
            w.stop()


@conformance(W + "should be able to start watching from a specific resource version "
             "[Conformance]", basename="watch")
def from_resource_version(c: Ctx) -> None:
    value = "from-resource-version"
    cm = c.core.create_namespaced_config_map(c.ns, _cm("e2e-watch-test-resource-version", value))
    first = update_configmap(c, cm.metadata.name, _set("mutation", "1"))
    second = update_configmap(c, cm.metadata.name, _set("mutation", "2"))
    c.core.delete_namespaced_config_map(cm.metadata.name, c.ns)
    with _watch(c, first.metadata.resource_version, value) as w:
        w.expect("MODIFIED", second)
        w.expect("DELETED")


@conformance(W + "should be able to restart watching from the last resource version observed "
             "by the previous watch [Conformance]", basename="watch")
def restart_watching(c: Ctx) -> None:
    value, name = "watch-closed-and-restarted", "e2e-watch-test-watch-closed"
    with _watch(c, "", value) as broken:
        cm = c.core.create_namespaced_config_map(c.ns, _cm(name, value))
        update_configmap(c, name, _set("mutation", "1"))
        broken.expect("ADDED", cm)
        last = broken.wait_for("MODIFIED", None, 60)
        assert last is not None, "timed out waiting for second watch notification"
    second = update_configmap(c, name, _set("mutation", "2"))
    with _watch(c, last[1].metadata.resource_version, value) as restarted:
        c.core.delete_namespaced_config_map(name, c.ns)
        restarted.expect("MODIFIED", second)
        restarted.expect("DELETED")


@conformance(W + "should observe an object deletion if it stops meeting the requirements of "
             "the selector [Conformance]", basename="watch")
def label_changed(c: Ctx) -> None:
    value, name = "label-changed-and-restored", "e2e-watch-test-label-changed"
    with _watch(c, "", value) as w:
        cm = c.core.create_namespaced_config_map(c.ns, _cm(name, value))
        first = update_configmap(c, name, _set("mutation", "1"))
        update_configmap(c, name, _relabel("wrong-value"))
        _in_order(w, ("ADDED", cm), ("MODIFIED", first), ("DELETED", None))
        second = update_configmap(c, name, _set("mutation", "2"))
        w.expect_none("MODIFIED", second)
        restored = update_configmap(c, name, _relabel(value))
        third = update_configmap(c, name, _set("mutation", "3"))
        c.core.delete_namespaced_config_map(name, c.ns)
        _in_order(w, ("ADDED", restored), ("MODIFIED", third), ("DELETED", None))


def _produce_events(c: Ctx, stop: threading.Event, errors: list[BaseException]) -> None:
    """Random create/update/delete of configmaps every 5 ms until stopped (upstream's
    produceConfigMapEvents)."""
    existing: list[int] = []
    i = 0
    try:
        while not stop.is_set():
            op = random.randrange(3) if existing else 0
            if op == 0:
                body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"cm-{i}"))
                c.core.create_namespaced_config_map(c.ns, body)
                existing.append(i)
                i += 1
            elif op == 1:
                name = f"cm-{random.choice(existing)}"
                c.core.replace_namespaced_config_map(
                    name, c.ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name)))
            else:
                idx = random.randrange(len(existing))
                c.core.delete_namespaced_config_map(f"cm-{existing.pop(idx)}", c.ns)
            time.sleep(0.005)
    except BaseException as e:  # reported by the test, as upstream's ExpectNoError would
        errors.append(e)


class _RetryWatch:
    """upstream's RetryWatcher: re-opens at the last resourceVersion when a watch ends."""

    def __init__(self, c: Ctx, rv: str) -> None:
        self.c, self.rv = c, rv
        self.w = self._open()

    def _open(self) -> Watch:
        return Watch(self.c.api, self.c.core.list_namespaced_config_map, "V1ConfigMap",
                     self.c.ns, resource_version=self.rv)

    def next_rv(self) -> str:
        for _ in range(3):
            try:
                ev = self.w.next(10)
            except AssertionError:  # closed by the server: resume where we were
                self.w = self._open()
                continue
            assert ev is not None, "timed out waiting for watch event"
            assert ev[0] in ("ADDED", "MODIFIED", "DELETED"), f"unexpected event {ev}"
            self.rv = ev[1].metadata.resource_version
            return self.rv
        raise AssertionError("watch kept closing")


@conformance(W + "should receive events on concurrent watches in same order [Conformance]",
             basename="watch")
def concurrent_watches(c: Ctx) -> None:
    rv = c.core.list_namespaced_config_map(c.ns).metadata.resource_version
    stop, errors = threading.Event(), []  # type: ignore[var-annotated]
    producer = threading.Thread(target=_produce_events, args=(c, stop, errors), daemon=True)
    producer.start()
    watches: list[_RetryWatch] = []
    try:
        for _ in range(100):
            watches.append(_RetryWatch(c, rv))
            rv = watches[0].next_rv()
            for w in watches[1:]:
                got = w.next_rv()
                assert got == rv, f"resource version mismatch, expected {rv} but got {got}"
            assert not errors, f"event producer failed: {errors[0]!r}"
    finally:
        stop.set()
        producer.join(10)
        for w in watches:
            w.w.stop()
    assert not errors, f"event producer failed: {errors[0]!r}"
