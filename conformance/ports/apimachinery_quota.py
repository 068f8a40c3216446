"""Ports of the conformance tests of test/e2e/apimachinery/resource_quota.go: a quota's
status is filled in promptly, object counts (services, secrets, config maps,
replication controllers, replica sets) and pod compute usage are charged on create and
released on delete, a create past the quota is refused, scopes (Terminating,
BestEffort) count only their pods, and the quota's own CRUD, lifecycle and /status."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.utils import parse_quantity

from conformance.framework import Ctx, conformance, expect_api_error, poll, rand_suffix
from conformance.ports.apps_common import PAUSE, SMP

Q = "[sig-api-machinery] ResourceQuota "
QUOTA_TIMEOUT = 60  # resourceQuotaTimeout
EXTENDED = "example.com/dongle"


def test_quota(name: str) -> client.V1ResourceQuota:
    """upstream's newTestResourceQuota."""
    hard = {"pods": "5", "services": "10", "services.nodeports": "1",
            "services.loadbalancers": "1", "replicationcontrollers": "10",
            "resourcequotas": "1", "cpu": "1", "memory": "500Mi", "configmaps": "2",
            "secrets": "10", "persistentvolumeclaims": "10", "requests.storage": "10Gi",
            "ephemeral-storage": "50Gi",
            "gold.storageclass.storage.k8s.io/persistentvolumeclaims": "10",
            "gold.storageclass.storage.k8s.io/requests.storage": "10Gi",
            "count/replicasets.apps": "5", f"requests.{EXTENDED}": "3"}
    return client.V1ResourceQuota(metadata=client.V1ObjectMeta(name=name),
                                  spec=client.V1ResourceQuotaSpec(hard=hard))


def scoped_quota(name: str, scope: str) -> client.V1ResourceQuota:
    """upstream's newTestResourceQuotaWithScope."""
    hard = {"pods": "5"}
    if scope in ("Terminating", "NotTerminating"):
        hard |= {"requests.cpu": "1", "requests.memory": "500Mi", "limits.cpu": "2",
                 "limits.memory": "1Gi"}
    return client.V1ResourceQuota(metadata=client.V1ObjectMeta(name=name),
                                  spec=client.V1ResourceQuotaSpec(hard=hard, scopes=[scope]))


def quota_pod(name: str, requests: dict[str, str], limits: dict[str, str]) -> client.V1Pod:
    """upstream's newTestPodForQuota: never schedulable, so it disturbs no node."""
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name), spec=client.V1PodSpec(
        node_selector={"x-test.k8s.io/unsatisfiable": "not-schedulable"},
        containers=[client.V1Container(name="pause", image=PAUSE,
                                       resources=client.V1ResourceRequirements(
                                           requests=requests, limits=limits))]))


def count_stable(c: Ctx, list_fn: Any, checks: int = 5, timeout: float = 30) -> int:
    """upstream's countResourceQuota and friends: how many objects there are, once the
    count has stayed the same for `checks` one-second polls."""
    found, unchanged = -1, 0

    def stable() -> bool:
        nonlocal found, unchanged
        n = len(list_fn(c.ns).items)
        unchanged = unchanged + 1 if n == found else 0
        found = n
        return unchanged >= checks
    poll(stable, timeout + checks, "the object count to settle", 1)
    return found


def wait_used(c: Ctx, name: str, used: dict[str, str], timeout: float = QUOTA_TIMEOUT) -> None:
    """upstream's waitForResourceQuota: status.used shows these values (compared as
    quantities)."""
    def shows() -> bool:
        have = c.core.read_namespaced_resource_quota(name, c.ns).status.used or {}
        return all(k in have and parse_quantity(have[k]) == parse_quantity(v)
                   for k, v in used.items())
    poll(shows, timeout, f"quota {name} to show used {used}", 2)


def ensure_used(c: Ctx, name: str, used: dict[str, str], seconds: float = 10) -> None:
    """upstream's ensureResourceQuota: the usage stays as it is for a while."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        wait_used(c, name, used, timeout=0)
        time.sleep(2)


def created_quota(c: Ctx, quota: client.V1ResourceQuota, used: dict[str, str]) -> None:
    c.core.create_namespaced_resource_quota(c.ns, quota)
    wait_used(c, quota.metadata.name, used)


@conformance(Q + "should create a ResourceQuota and ensure its status is promptly calculated. "
             "[Conformance]", basename="resourcequota")
def status_promptly(c: Ctx) -> None:
    n = count_stable(c, c.core.list_namespaced_resource_quota)
    created_quota(c, test_quota("test-quota"), {"resourcequotas": str(n + 1)})


def _service(name: str, kind: str, allocate: bool | None = None) -> client.V1Service:
    return client.V1Service(metadata=client.V1ObjectMeta(name=name), spec=client.V1ServiceSpec(
        type=kind, ports=[client.V1ServicePort(port=80, target_port=80)],
        allocate_load_balancer_node_ports=allocate))


@conformance(Q + "should create a ResourceQuota and capture the life of a service. "
             "[Conformance]", basename="resourcequota")
def life_of_service(c: Ctx) -> None:
    n = count_stable(c, c.core.list_namespaced_resource_quota)
    created_quota(c, test_quota("test-quota"), {"resourcequotas": str(n + 1)})
    c.core.create_namespaced_service(c.ns, _service("test-service", "ClusterIP"))
    c.core.create_namespaced_service(c.ns, _service("test-service-np", "NodePort"))
    expect_api_error(lambda: c.core.create_namespaced_service(
        c.ns, _service("test-service-lb", "LoadBalancer", True)))
    used = {"resourcequotas": str(n + 1), "services": "2", "services.nodeports": "1"}
    wait_used(c, "test-quota", used)
    c.core.delete_namespaced_service("test-service", c.ns)
    c.core.delete_namespaced_service("test-service-np", c.ns)
    wait_used(c, "test-quota", used | {"services": "0", "services.nodeports": "0"})


@conformance(Q + "should create a ResourceQuota and capture the life of a secret. [Conformance]",
             basename="resourcequota")
def life_of_secret(c: Ctx) -> None:
    secrets = count_stable(c, c.core.list_namespaced_secret)
    n = count_stable(c, c.core.list_namespaced_resource_quota)
    quota = test_quota("test-quota")
    quota.spec.hard["secrets"] = str(secrets + 1)
    created_quota(c, quota, {"resourcequotas": str(n + 1), "secrets": str(secrets)})
    c.core.create_namespaced_secret(c.ns, client.V1Secret(
        metadata=client.V1ObjectMeta(name="test-secret"),
        data={"data-1": "dmFsdWUtMQo=", "data-2": "dmFsdWUtMgo=", "data-3": "dmFsdWUtMwo="}))
    wait_used(c, "test-quota", {"secrets": str(secrets + 1)})
    c.core.delete_namespaced_secret("test-secret", c.ns)
    wait_used(c, "test-quota", {"secrets": str(secrets)})


@conformance(Q + "should create a ResourceQuota and capture the life of a pod. [Conformance]",
             basename="resourcequota")
def life_of_pod(c: Ctx) -> None:
    n = count_stable(c, c.core.list_namespaced_resource_quota)
    created_quota(c, test_quota("test-quota"), {"resourcequotas": str(n + 1)})
    requests = {"cpu": "500m", "memory": "252Mi", "ephemeral-storage": "30Gi", EXTENDED: "2"}
    pod = c.core.create_namespaced_pod(c.ns, quota_pod("test-pod", requests, {EXTENDED: "2"}))
    used = {"resourcequotas": str(n + 1), "pods": "1", "cpu": "500m", "memory": "252Mi",
            "ephemeral-storage": "30Gi", f"requests.{EXTENDED}": "2"}
    wait_used(c, "test-quota", used)
    expect_api_error(lambda: c.core.create_namespaced_pod(c.ns, quota_pod(
        "fail-pod", {"cpu": "600m", "memory": "100Mi"}, {})))
    expect_api_error(lambda: c.core.create_namespaced_pod(c.ns, quota_pod(
        "fail-pod-for-extended-resource", {"cpu": "500m", "memory": "100Mi",
                                           "ephemeral-storage": "30Gi", EXTENDED: "2"},
        {EXTENDED: "2"})))
    pod.spec.containers[0].resources.requests = {"cpu": "100m", "memory": "100Mi",
                                                 "ephemeral-storage": "10Gi"}
    expect_api_error(lambda: c.core.replace_namespaced_pod("test-pod", c.ns, pod))
    wait_used(c, "test-quota", used)
    c.core.delete_namespaced_pod("test-pod", c.ns, grace_period_seconds=0)
    wait_used(c, "test-quota", used | {"pods": "0", "cpu": "0", "memory": "0",
                                       "ephemeral-storage": "0", f"requests.{EXTENDED}": "0"})


@conformance(Q + "should create a ResourceQuota and capture the life of a configMap. "
             "[Conformance]", basename="resourcequota")
def life_of_configmap(c: Ctx) -> None:
    configmaps = count_stable(c, c.core.list_namespaced_config_map, checks=15, timeout=60)
    n = count_stable(c, c.core.list_namespaced_resource_quota)
    quota = test_quota("test-quota")
    quota.spec.hard["configmaps"] = str(configmaps + 1)
    used = {"resourcequotas": str(n + 1), "configmaps": str(configmaps)}
    created_quota(c, quota, used)
    c.core.create_namespaced_config_map(c.ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="test-configmap"), data={"a": "b"}))
    wait_used(c, "test-quota", used | {"configmaps": str(configmaps + 1)})
    c.core.delete_namespaced_config_map("test-configmap", c.ns)
    wait_used(c, "test-quota", used)


def _template(name: str) -> client.V1PodTemplateSpec:
    return client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels={"name": name}),
        spec=client.V1PodSpec(termination_grace_period_seconds=0,
                              containers=[client.V1Container(name=name, image="nginx")]))


def _life_of_count(c: Ctx, key: str, create: Any, delete: Any) -> None:
    """A quota counting `key` goes 0 -> 1 -> 0 as one object is made and deleted."""
    n = count_stable(c, c.core.list_namespaced_resource_quota)
    created_quota(c, test_quota("test-quota"), {"resourcequotas": str(n + 1), key: "0"})
    create()
    wait_used(c, "test-quota", {key: "1"})
    delete()
    wait_used(c, "test-quota", {key: "0"})


@conformance(Q + "should create a ResourceQuota and capture the life of a replication "
             "controller. [Conformance]", basename="resourcequota")
def life_of_replication_controller(c: Ctx) -> None:
    rc = client.V1ReplicationController(
        metadata=client.V1ObjectMeta(name="test-rc"), spec=client.V1ReplicationControllerSpec(
            replicas=0, selector={"name": "test-rc"}, template=_template("test-rc")))
    _life_of_count(c, "replicationcontrollers",
                   lambda: c.core.create_namespaced_replication_controller(c.ns, rc),
                   lambda: c.core.delete_namespaced_replication_controller(
                       "test-rc", c.ns, propagation_policy="Background"))


@conformance(Q + "should create a ResourceQuota and capture the life of a replica set. "
             "[Conformance]", basename="resourcequota")
def life_of_replica_set(c: Ctx) -> None:
    rs = client.V1ReplicaSet(
        metadata=client.V1ObjectMeta(name="test-rs"), spec=client.V1ReplicaSetSpec(
            replicas=0, selector=client.V1LabelSelector(match_labels={"name": "test-rs"}),
            template=_template("test-rs")))
    _life_of_count(c, "count/replicasets.apps",
                   lambda: c.apps.create_namespaced_replica_set(c.ns, rs),
                   lambda: c.apps.delete_namespaced_replica_set("test-rs", c.ns))


def _scope_pair(c: Ctx, first: tuple[str, str], second: tuple[str, str]) -> None:
    for name, scope in (first, second):
        created_quota(c, scoped_quota(name, scope), {"pods": "0"})


@conformance(Q + "should verify ResourceQuota with terminating scopes. [Conformance]",
             basename="resourcequota")
def terminating_scopes(c: Ctx) -> None:
    _scope_pair(c, ("quota-terminating", "Terminating"),
                ("quota-not-terminating", "NotTerminating"))
    requests, limits = {"cpu": "500m", "memory": "200Mi"}, {"cpu": "1", "memory": "400Mi"}
    charged = {"pods": "1", "requests.cpu": "500m", "requests.memory": "200Mi",
               "limits.cpu": "1", "limits.memory": "400Mi"}
    nothing = {k: "0" for k in charged}
    c.core.create_namespaced_pod(c.ns, quota_pod("test-pod", requests, limits))
    wait_used(c, "quota-not-terminating", charged)
    ensure_used(c, "quota-terminating", nothing)
    c.core.delete_namespaced_pod("test-pod", c.ns, grace_period_seconds=0)
    wait_used(c, "quota-not-terminating", nothing)
    pod = quota_pod("terminating-pod", requests, limits)
    pod.spec.active_deadline_seconds = 3600
    c.core.create_namespaced_pod(c.ns, pod)
    wait_used(c, "quota-terminating", charged)
    wait_used(c, "quota-not-terminating", nothing)
    ensure_used(c, "quota-not-terminating", nothing)
    c.core.delete_namespaced_pod("terminating-pod", c.ns, grace_period_seconds=0)
    wait_used(c, "quota-terminating", nothing)


@conformance(Q + "should verify ResourceQuota with best effort scope. [Conformance]",
             basename="resourcequota")
def best_effort_scope(c: Ctx) -> None:
    _scope_pair(c, ("quota-besteffort", "BestEffort"),
                ("quota-not-besteffort", "NotBestEffort"))
    c.core.create_namespaced_pod(c.ns, quota_pod("pfpod", {}, {}))
    wait_used(c, "quota-besteffort", {"pods": "1"})
    wait_used(c, "quota-not-besteffort", {"pods": "0"})
    c.core.delete_namespaced_pod("pfpod", c.ns, grace_period_seconds=0)
    wait_used(c, "quota-besteffort", {"pods": "0"})
    c.core.create_namespaced_pod(c.ns, quota_pod("burstable-pod", {
        "cpu": "500m", "memory": "200Mi"}, {"cpu": "1", "memory": "400Mi"}))
    wait_used(c, "quota-not-besteffort", {"pods": "1"})
    wait_used(c, "quota-besteffort", {"pods": "0"})
    c.core.delete_namespaced_pod("burstable-pod", c.ns, grace_period_seconds=0)
    wait_used(c, "quota-not-besteffort", {"pods": "0"})


def _hard(quota: Any, key: str) -> Any:
    return parse_quantity(quota.spec.hard[key])


@conformance(Q + "should be able to update and delete ResourceQuota. [Conformance]",
             basename="resourcequota")
def update_and_delete(c: Ctx) -> None:
    quota = client.V1ResourceQuota(metadata=client.V1ObjectMeta(name="test-quota"),
                                   spec=client.V1ResourceQuotaSpec(hard={"cpu": "1",
                                                                         "memory": "500Mi"}))
    c.core.create_namespaced_resource_quota(c.ns, quota)
    got = c.core.read_namespaced_resource_quota("test-quota", c.ns)
    assert _hard(got, "cpu") == parse_quantity("1")
    assert _hard(got, "memory") == parse_quantity("500Mi")
    quota.spec.hard = {"cpu": "2", "memory": "1Gi"}
    updated = c.core.replace_namespaced_resource_quota("test-quota", c.ns, quota)
    for obj in (updated, c.core.read_namespaced_resource_quota("test-quota", c.ns)):
        assert _hard(obj, "cpu") == parse_quantity("2")
        assert _hard(obj, "memory") == parse_quantity("1Gi")
    c.core.delete_namespaced_resource_quota("test-quota", c.ns)
    expect_api_error(lambda: c.core.read_namespaced_resource_quota("test-quota", c.ns), 404)


@conformance(Q + "should manage the lifecycle of a ResourceQuota [Conformance]",
             basename="resourcequota")
def lifecycle(c: Ctx) -> None:
    name = f"e2e-quota-{rand_suffix()}"
    selector = f"e2e-rq-label={name}"
    c.core.create_namespaced_resource_quota(c.ns, client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name=name, labels={"e2e-rq-label": name}),
        spec=client.V1ResourceQuotaSpec(hard={"cpu": "1", "memory": "500Mi"})))
    got = c.core.read_namespaced_resource_quota(name, c.ns)
    assert _hard(got, "cpu") == parse_quantity("1") and got.metadata.resource_version
    listed = c.core.list_resource_quota_for_all_namespaces(label_selector=selector).items
    assert len(listed) == 1, f"Failed to find ResourceQuotes {name}"
    patched = c.core.patch_namespaced_resource_quota(
        name, c.ns, {"metadata": {"labels": {name: "patched"}},
                     "spec": {"hard": {"memory": "750Mi"}}}, _content_type=SMP)
    assert patched.metadata.labels[name] == "patched"
    assert _hard(patched, "memory") == parse_quantity("750Mi")
    assert int(listed[0].metadata.resource_version) < int(patched.metadata.resource_version)
    c.core.delete_collection_namespaced_resource_quota(c.ns, label_selector=selector)
    expect_api_error(lambda: c.core.read_namespaced_resource_quota(name, c.ns), 404)


@conformance(Q + "should apply changes to a resourcequota status [Conformance]",
             basename="resourcequota")
def status_changes(c: Ctx) -> None:
    name = f"e2e-rq-status-{rand_suffix()}"
    c.core.create_namespaced_resource_quota(c.ns, client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name=name, labels={"e2e-rq-label": name}),
        spec=client.V1ResourceQuotaSpec(hard={"cpu": "500m", "memory": "500Mi"})))
    initial = c.core.read_namespaced_resource_quota(name, c.ns)
    assert _hard(initial, "cpu") == parse_quantity("500m")

    def set_status(hard: dict[str, str]) -> None:
        for _ in range(5):  # retry.RetryOnConflict
            current = c.core.read_namespaced_resource_quota(name, c.ns)
            current.status = client.V1ResourceQuotaStatus(hard=hard)
            try:
                c.core.replace_namespaced_resource_quota_status(name, c.ns, current)
                return
            except ApiException as e:
                if e.status != 409:
                    raise
        raise AssertionError("Failed to update resourceQuota")
    set_status(dict(initial.spec.hard))
    _status_matches(c, name, initial.spec.hard)
    patched = c.core.patch_namespaced_resource_quota(
        name, c.ns, {"spec": {"hard": {"cpu": "1", "memory": "1Gi"}}}, _content_type=SMP)
    c.core.patch_namespaced_resource_quota_status(
        name, c.ns, {"status": {"hard": dict(patched.spec.hard)}}, _content_type=SMP)
    _status_matches(c, name, patched.spec.hard)
    got = c.core.read_namespaced_resource_quota_status(name, c.ns)
    assert _same(got.status.hard, patched.spec.hard)
    repatched = c.core.patch_namespaced_resource_quota_status(
        name, c.ns, {"status": {"hard": {"cpu": "2", "memory": "2Gi"}}}, _content_type=SMP)
    assert _same(repatched.status.hard, {"cpu": "2", "memory": "2Gi"})
    # the quota controller puts status.hard back to the spec, which the patch left alone
    poll(lambda: _same(c.core.read_namespaced_resource_quota(name, c.ns).status.hard,
                       {"cpu": "1", "memory": "1Gi"}), 6 * 60, "the status to be reset", 5)
    assert _same(c.core.read_namespaced_resource_quota(name, c.ns).spec.hard, patched.spec.hard)


def _same(a: dict[str, str] | None, b: dict[str, str] | None) -> bool:
    a, b = a or {}, b or {}
    return a.keys() == b.keys() and all(parse_quantity(a[k]) == parse_quantity(b[k]) for k in a)


def _status_matches(c: Ctx, name: str, hard: dict[str, str]) -> None:
    poll(lambda: _same(c.core.read_namespaced_resource_quota(name, c.ns).status.hard, hard),
         60, f"quota {name} status.hard to be {hard}", 1)
