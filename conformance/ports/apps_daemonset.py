"""Ports of test/e2e/apps/daemon_set.go (Daemon set [Serial]): the API tests, with
upstream's dsRetryTimeout of 5 minutes."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, poll, rand_suffix
from conformance.images import build as images
from conformance.ports.apps_common import (
    WEBSERVER,
    retry_on_conflict,
    status_update_and_patch,
)

DS = "[sig-apps] Daemon set [Serial] "
DS_NAME, NAME_LABEL = "daemon-set", "daemonset-name"
RETRY_TIMEOUT = 300  # dsRetryTimeout


def new_daemonset(name: str, image: str, label: dict[str, str]) -> client.V1DaemonSet:
    """upstream's e2edaemonset.NewDaemonSet with a label and port 9376."""
    return client.V1DaemonSet(
        metadata=client.V1ObjectMeta(name=name, labels=dict(label)),
        spec=client.V1DaemonSetSpec(
            selector=client.V1LabelSelector(match_labels=dict(label)),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=dict(label)),
                spec=client.V1PodSpec(containers=[client.V1Container(
                    name="app", image=image, ports=[client.V1ContainerPort(container_port=9376)],
                    security_context=client.V1SecurityContext())]))))


def _can_run(node: Any) -> bool:
    ready = any(x.type == "Ready" and x.status == "True" for x in node.status.conditions or [])
    blocked = any(t.effect in ("NoSchedule", "NoExecute") for t in node.spec.taints or [])
    return ready and not node.spec.unschedulable and not blocked


def running_on_all_nodes(c: Ctx, ds: Any) -> bool:
    """upstream's CheckRunningOnAllNodes: one available daemon pod on every node that can
    run it."""
    nodes = {n.metadata.name for n in c.core.list_node().items if _can_run(n)}
    have: dict[str, int] = {}
    for p in c.core.list_namespaced_pod(c.ns).items:
        owned = any(o.controller and o.uid == ds.metadata.uid for o in p.metadata.owner_references or [])
        ready = any(x.type == "Ready" and x.status == "True" for x in p.status.conditions or [])
        if owned and p.metadata.deletion_timestamp is None and ready and p.spec.node_name:
            have[p.spec.node_name] = have.get(p.spec.node_name, 0) + 1
    return bool(nodes) and all(have.get(n) == 1 for n in nodes)


def check_daemon_status(c: Ctx, name: str) -> None:
    s = c.apps.read_namespaced_daemon_set(name, c.ns).status
    desired, scheduled, ready = s.desired_number_scheduled, s.current_number_scheduled, s.number_ready
    assert not (desired != scheduled and desired != ready), \
        f"error in daemon status. DesiredScheduled: {desired}, CurrentScheduled: {scheduled}, Ready: {ready}"


def _launch(c: Ctx) -> Any:
    label = {NAME_LABEL: DS_NAME}
    ds = c.apps.create_namespaced_daemon_set(c.ns, new_daemonset(DS_NAME, WEBSERVER, label))
    poll(lambda: running_on_all_nodes(c, ds), RETRY_TIMEOUT, "daemon pods on every node", 1)
    check_daemon_status(c, DS_NAME)
    return ds


@conformance(DS + "should list and delete a collection of DaemonSets [Conformance]",
             basename="daemonsets")
def list_delete_collection(c: Ctx) -> None:
    sel = f"{NAME_LABEL}={DS_NAME}"
    _launch(c)
    # upstream counts across all namespaces; its AfterEach deletes each test's daemon sets
    # first, while here an earlier test's namespace may still be terminating: count ours
    found = c.apps.list_daemon_set_for_all_namespaces(label_selector=sel).items
    assert len([d for d in found if d.metadata.namespace == c.ns]) == 1, "filtered list wasn't found"
    c.apps.delete_collection_namespaced_daemon_set(c.ns, grace_period_seconds=1, label_selector=sel)
    left = [d for d in c.apps.list_daemon_set_for_all_namespaces(label_selector=sel).items
            if d.metadata.namespace == c.ns]
    assert not left, "filtered list should have no daemonset"


@conformance(DS + "should verify changes to a daemon set status [Conformance]", basename="daemonsets")
def status_endpoints(c: Ctx) -> None:
    sel = f"{NAME_LABEL}={DS_NAME}"
    rv = c.apps.list_daemon_set_for_all_namespaces(label_selector=sel).metadata.resource_version
    _launch(c)
    status_update_and_patch(c, "DaemonSet", "daemon_set", DS_NAME, (NAME_LABEL, DS_NAME), rv,
                            RETRY_TIMEOUT, "daemon set")


# -- the controller tests -----------------------------------------------------------------
LABEL_PREFIX = "daemonset-"
COLOR = LABEL_PREFIX + "color"
NEW_IMAGE = images.AGNHOST  # imageutils.Agnhost
HASH = "controller-revision-hash"  # apps.DefaultDaemonSetUniqueLabelKey


def _owned(p: Any, ds: Any) -> bool:
    return any(o.controller and o.uid == ds.metadata.uid for o in p.metadata.owner_references or [])


def _ready(p: Any) -> bool:
    return any(x.type == "Ready" and x.status == "True" for x in p.status.conditions or [])


def daemon_pods(c: Ctx) -> list[Any]:
    return list(c.core.list_namespaced_pod(c.ns, label_selector=f"{NAME_LABEL}={DS_NAME}").items)


def on_nodes(c: Ctx, ds: Any, names: list[str]) -> bool:
    """checkDaemonPodOnNodes: exactly one available daemon pod on each of `names`, none
    elsewhere."""
    have: dict[str, int] = {}
    for p in c.core.list_namespaced_pod(c.ns).items:
        if _owned(p, ds) and p.metadata.deletion_timestamp is None:
            if not _ready(p):
                return False
            have[p.spec.node_name] = have.get(p.spec.node_name, 0) + 1
    return sorted(have) == sorted(names) and all(v == 1 for v in have.values())


def set_daemon_labels(c: Ctx, node: str, labels: dict[str, str]) -> Any:
    """setDaemonSetNodeLabels: the node's daemonset-* labels become exactly `labels`."""
    current = c.core.read_node(node).metadata.labels or {}
    patch: dict[str, str | None] = {k: None for k in current if k.startswith(LABEL_PREFIX)}
    patch.update(labels)
    return c.core.patch_node(node, {"metadata": {"labels": patch}})


def clear_daemon_labels(c: Ctx) -> None:
    for n in c.core.list_node().items:
        if any(k.startswith(LABEL_PREFIX) for k in n.metadata.labels or {}):
            set_daemon_labels(c, n.metadata.name, {})


def histories(c: Ctx) -> list[Any]:
    return list(c.apps.list_namespaced_controller_revision(
        c.ns, label_selector=f"{NAME_LABEL}={DS_NAME}").items)


def current_history(c: Ctx, count: int) -> Any:
    """waitForHistoryCreated then curHistory: `count` revisions exist; the newest is current."""
    poll(lambda: len(histories(c)) == count, RETRY_TIMEOUT, f"{count} controller revisions", 1)
    return max(histories(c), key=lambda h: h.revision)


def check_pods_hash(c: Ctx, ds: Any, h: str) -> None:
    """checkDaemonSetPodsLabels: every daemon pod carries the revision hash."""
    for p in daemon_pods(c):
        if _owned(p, ds) and p.metadata.deletion_timestamp is None:
            got = (p.metadata.labels or {}).get(HASH)
            assert got == h, f"pod {p.metadata.name} has {HASH}={got}, want {h}"


def images_updated(c: Ctx, ds: Any, image: str, max_unavailable: int) -> bool:
    """checkDaemonPodsImageAndAvailability."""
    unavailable, updated, nodes_with = 0, True, {}
    for p in c.core.list_namespaced_pod(c.ns).items:
        if not _owned(p, ds) or p.metadata.deletion_timestamp is not None:
            continue
        if p.spec.containers[0].image != image:
            updated = False
        else:
            nodes_with[p.spec.node_name] = nodes_with.get(p.spec.node_name, 0) + 1
        unavailable += not _ready(p)
    assert unavailable <= max_unavailable, \
        f"number of unavailable pods {unavailable} is greater than {max_unavailable}"
    return updated and all(v == 1 for v in nodes_with.values())


@conformance(DS + "should run and stop simple daemon [Conformance]", basename="daemonsets")
def simple_daemon(c: Ctx) -> None:
    clear_daemon_labels(c)
    ds = _launch(c)
    c.core.delete_namespaced_pod(daemon_pods(c)[0].metadata.name, c.ns)
    poll(lambda: running_on_all_nodes(c, ds), RETRY_TIMEOUT, "daemon pod revived", 1)


@conformance(DS + "should run and stop complex daemon [Conformance]", basename="daemonsets")
def complex_daemon(c: Ctx) -> None:
    clear_daemon_labels(c)
    try:
        ds_obj = new_daemonset(DS_NAME, WEBSERVER, {NAME_LABEL: DS_NAME})
        ds_obj.spec.template.spec.node_selector = {COLOR: "blue"}
        ds = c.apps.create_namespaced_daemon_set(c.ns, ds_obj)
        poll(lambda: on_nodes(c, ds, []), RETRY_TIMEOUT, "daemon pods on no nodes", 1)
        node = next(n.metadata.name for n in c.core.list_node().items if _can_run(n))
        blue = set_daemon_labels(c, node, {COLOR: "blue"})
        assert len([k for k in blue.metadata.labels if k.startswith(LABEL_PREFIX)]) == 1
        poll(lambda: on_nodes(c, ds, [node]), RETRY_TIMEOUT, "a daemon pod on the blue node", 1)
        check_daemon_status(c, DS_NAME)
        set_daemon_labels(c, node, {COLOR: "green"})
        poll(lambda: on_nodes(c, ds, []), RETRY_TIMEOUT, "daemon pods gone from the node", 1)
        c.apps.patch_namespaced_daemon_set(DS_NAME, c.ns, {"spec": {
            "template": {"spec": {"nodeSelector": {COLOR: "green"}}},
            "updateStrategy": {"type": "RollingUpdate"}}})
        poll(lambda: on_nodes(c, ds, [node]), RETRY_TIMEOUT, "a daemon pod on the green node", 1)
        check_daemon_status(c, DS_NAME)
    finally:
        clear_daemon_labels(c)


@conformance(DS + "should retry creating failed daemon pods [Conformance]", basename="daemonsets")
def retry_failed(c: Ctx) -> None:
    clear_daemon_labels(c)
    ds = _launch(c)
    pod = daemon_pods(c)[0]
    pod.metadata.resource_version = None
    pod.status.phase = "Failed"
    c.core.replace_namespaced_pod_status(pod.metadata.name, c.ns, pod)
    poll(lambda: running_on_all_nodes(c, ds), RETRY_TIMEOUT, "daemon pod revived", 1)
    poll(lambda: all(p.metadata.uid != pod.metadata.uid for p in daemon_pods(c)),
         RETRY_TIMEOUT, "the failed daemon pod deleted", 1)


@conformance(DS + "should update pod when spec was updated and update strategy is RollingUpdate "
             "[Conformance]", basename="daemonsets")
def rolling_update(c: Ctx) -> None:
    clear_daemon_labels(c)
    ds_obj = new_daemonset(DS_NAME, WEBSERVER, {NAME_LABEL: DS_NAME})
    ds_obj.spec.update_strategy = client.V1DaemonSetUpdateStrategy(type="RollingUpdate")
    ds = c.apps.create_namespaced_daemon_set(c.ns, ds_obj)
    poll(lambda: running_on_all_nodes(c, ds), RETRY_TIMEOUT, "daemon pods on every node", 1)
    cur = current_history(c, 1)
    assert cur.revision == 1
    check_pods_hash(c, ds, cur.metadata.labels[HASH])
    name = ds.spec.template.spec.containers[0].name
    c.apps.patch_namespaced_daemon_set(DS_NAME, c.ns, {"spec": {"template": {"spec": {
        "containers": [{"name": name, "image": NEW_IMAGE}]}}}})
    poll(lambda: images_updated(c, ds, NEW_IMAGE, 1), RETRY_TIMEOUT, "daemon pods updated", 1)
    poll(lambda: running_on_all_nodes(c, ds), RETRY_TIMEOUT, "daemon pods on every node", 1)
    cur = current_history(c, 2)
    assert cur.revision == 2
    check_pods_hash(c, ds, cur.metadata.labels[HASH])


@conformance(DS + "should rollback without unnecessary restarts [Conformance]",
             basename="daemonsets", needs=("containers",))
def rollback(c: Ctx) -> None:
    """A rollout stuck on an image that cannot be pulled is rolled back; the pods that
    still ran the old image are kept, not restarted."""
    nodes = [n for n in c.core.list_node().items if _can_run(n)]
    assert len(nodes) > 1, "Conformance test suite needs a cluster with at least 2 nodes."
    ds_obj = new_daemonset(DS_NAME, WEBSERVER, {NAME_LABEL: DS_NAME})
    ds_obj.spec.update_strategy = client.V1DaemonSetUpdateStrategy(type="RollingUpdate")
    ds = c.apps.create_namespaced_daemon_set(c.ns, ds_obj)
    poll(lambda: running_on_all_nodes(c, ds), RETRY_TIMEOUT, "daemon pods on every node", 1)
    bad = "foo:non-existent"  # never finishes: cannot be pulled
    _set_image(c, bad)
    poll(lambda: any(p.spec.containers[0].image == bad for p in daemon_pods(c)),
         RETRY_TIMEOUT, "at least one pod with the new image", 1)
    existing, new = [], []
    for p in daemon_pods(c):
        image = p.spec.containers[0].image
        assert image in (WEBSERVER, bad), f"unexpected pod found, image = {image}"
        (existing if image == WEBSERVER else new).append(p.metadata.name)
    nodes = [n for n in c.core.list_node().items if _can_run(n)]
    if len(nodes) < 2:
        assert not existing, f"old pods left on a single node: {existing}"
    else:
        assert existing, "no pod with the old image left: the rollout was not stuck"
    assert new, "no pod with the new image"
    _set_image(c, WEBSERVER)
    poll(lambda: images_updated(c, ds, WEBSERVER, 1), RETRY_TIMEOUT, "the rollback to complete", 1)
    now = {p.metadata.name for p in daemon_pods(c)}
    for name in existing:
        assert name in now, f"unexpected pod {name} be restarted"


def _set_image(c: Ctx, image: str) -> None:
    """updateDaemonSetWithRetries setting the container's image."""
    def once() -> Any:
        ds = c.apps.read_namespaced_daemon_set(DS_NAME, c.ns)
        ds.spec.template.spec.containers[0].image = image
        return c.apps.replace_namespaced_daemon_set(DS_NAME, c.ns, ds)
    retry_on_conflict(once, steps=100)


# -- controller_revision.go -----------------------------------------------------------------
def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def _revision_count(c: Ctx, selector: str, n: int) -> bool:
    return len(c.apps.list_namespaced_controller_revision(c.ns, label_selector=selector).items) == n


@conformance("[sig-apps] ControllerRevision [Serial] should manage the lifecycle of a "
             "ControllerRevision [Conformance]", basename="controllerrevisions")
def controller_revision_lifecycle(c: Ctx) -> None:
    clear_daemon_labels(c)
    apps, ns = c.apps, c.ns
    name = f"e2e-{rand_suffix()}-daemon-set"
    label = {NAME_LABEL: name}
    sel = f"{NAME_LABEL}={name}"
    ds = apps.create_namespaced_daemon_set(ns, new_daemonset(name, NEW_IMAGE, label))
    poll(lambda: running_on_all_nodes(c, ds), RETRY_TIMEOUT, "daemon pods on every node", 1)
    check_daemon_status(c, name)
    assert len(apps.list_daemon_set_for_all_namespaces(label_selector=sel).items) == 1, \
        "filtered list wasn't found"
    ds = apps.read_namespaced_daemon_set(name, ns)
    revs = apps.list_controller_revision_for_all_namespaces(label_selector=sel).items
    assert len(revs) == 1, "Failed to find any controllerRevisions"
    oref = revs[0].metadata.owner_references[0]
    assert oref.kind == "DaemonSet" and oref.uid == ds.metadata.uid, oref
    initial = apps.read_namespaced_controller_revision(revs[0].metadata.name, ns)
    patched = apps.patch_namespaced_controller_revision(
        initial.metadata.name, ns, {"metadata": {"labels": {initial.metadata.name: "patched"}}})
    assert patched.metadata.labels.get(initial.metadata.name) == "patched", patched.metadata.labels

    # upstream names the new revision after controller.ComputeHash of the changed template;
    # any name the DaemonSet does not use gives the same counts and revisions below
    template = client.ApiClient().sanitize_for_serialization(ds.spec.template)
    template["spec"]["terminationGracePeriodSeconds"] = 1
    digest = str(_fnv32a(repr(sorted(template.items())).encode()))
    apps.create_namespaced_controller_revision(ns, client.V1ControllerRevision(
        metadata=client.V1ObjectMeta(
            name=f"{name}-{digest}", labels={**(ds.spec.template.metadata.labels or {}),
                                              HASH: digest},
            annotations=ds.metadata.annotations,
            owner_references=[client.V1OwnerReference(
                api_version="apps/v1", kind="DaemonSet", name=name, uid=ds.metadata.uid,
                controller=True, block_owner_deletion=True)]),
        data=initial.data, revision=initial.revision + 1))
    poll(lambda: _revision_count(c, sel, 2), 60, "two ControllerRevisions", 1)
    apps.delete_namespaced_controller_revision(initial.metadata.name, ns)
    poll(lambda: _revision_count(c, sel, 1), 60, "one ControllerRevision", 1)
    current = apps.list_namespaced_controller_revision(ns).items[0]

    def update() -> Any:
        rev = apps.read_namespaced_controller_revision(current.metadata.name, ns)
        rev.metadata.labels[current.metadata.name] = "updated"
        return apps.replace_namespaced_controller_revision(current.metadata.name, ns, rev)
    updated = retry_on_conflict(update)
    assert updated.metadata.labels.get(current.metadata.name) == "updated", updated.metadata.labels
    apps.patch_namespaced_daemon_set(name, ns, {
        "spec": {"template": {"spec": {"terminationGracePeriodSeconds": 1}}},
        "updateStrategy": {"type": "RollingUpdate"}})
    poll(lambda: _revision_count(c, sel, 2), 60, "two ControllerRevisions", 1)
    apps.delete_collection_namespaced_controller_revision(
        ns, label_selector=f"{updated.metadata.name}=updated")
    poll(lambda: _revision_count(c, sel, 1), 60, "one ControllerRevision", 1)
    left = apps.list_namespaced_controller_revision(ns).items
    assert left[0].revision == 3, f"failed to find the expected revision: {left[0].revision}"
