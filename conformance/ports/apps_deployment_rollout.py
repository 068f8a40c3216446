"""Ports of the two test/e2e/apps/deployment.go tests that stall a rollout on an image
that cannot be pulled: rollover and proportional scaling. They need a kubelet that
really pulls images (kapi's simulated nodes run any image), hence needs=containers."""

from __future__ import annotations

from typing import Any, Callable

from kubernetes import client

from conformance.framework import Ctx, conformance, poll
from conformance.ports.apps_common import (
    AGNHOST,
    WEBSERVER,
    WEBSERVER_NAME,
    retry_on_conflict,
    verify_pods_running,
)
from conformance.ports.apps_deployment import (
    AGNHOST_NAME,
    LONG,
    REVISION,
    D,
    new_and_old_rs,
    new_deployment,
    wait_revision_and_image,
)
from conformance.ports.apps_replicaset import new_rs

SHORT = 60   # framework.PollShortTimeout
POLL = 2     # framework.Poll


def update_deployment(c: Ctx, name: str, change: Callable[[Any], None]) -> Any:
    """upstream's UpdateDeploymentWithRetries."""
    def once() -> Any:
        d = c.apps.read_namespaced_deployment(name, c.ns)
        change(d)
        return c.apps.replace_namespaced_deployment(name, c.ns, d)
    return retry_on_conflict(once, steps=100)


def wait_observed(c: Ctx, name: str, generation: int) -> None:
    poll(lambda: (c.apps.read_namespaced_deployment(name, c.ns).status.observed_generation or 0)
         >= generation, SHORT, f"deployment {name} to observe generation {generation}", POLL)


def _rs_until(c: Ctx, rs: Any, ok: Callable[[Any], bool], timeout: float, what: str) -> None:
    """Poll the ReplicaSet until its controller has seen the generation `rs` had and
    ok(current) holds."""
    gen = rs.metadata.generation

    def done() -> bool:
        cur = c.apps.read_namespaced_replica_set(rs.metadata.name, c.ns)
        return (cur.status.observed_generation or 0) >= gen and ok(cur)
    poll(done, timeout, f"replica set {rs.metadata.name} {what}", POLL)


def rs_spec_replicas(c: Ctx, rs: Any, n: int) -> None:
    _rs_until(c, rs, lambda cur: cur.spec.replicas == n, SHORT, f"to have .spec.replicas = {n}")


def rs_available(c: Ctx, rs: Any, n: int) -> None:
    _rs_until(c, rs, lambda cur: (cur.status.available_replicas or 0) == n, LONG,
              f"to have .status.availableReplicas = {n}")


def rs_desired(c: Ctx, rs: Any) -> None:
    """upstream's waitForReplicaSetDesiredReplicas: status.replicas reaches spec.replicas."""
    _rs_until(c, rs, lambda cur: (cur.status.replicas or 0) == rs.spec.replicas
              and cur.spec.replicas == rs.spec.replicas, SHORT, "to have its desired replicas")


def _strategy(d: client.V1Deployment, surge: int, unavailable: int) -> None:
    d.spec.strategy.rolling_update = client.V1RollingUpdateDeployment(
        max_surge=surge, max_unavailable=unavailable)


def _new_rs(c: Ctx, name: str) -> Any:
    new, _ = new_and_old_rs(c, c.apps.read_namespaced_deployment(name, c.ns))
    assert new is not None, f"deployment {name} has no new replica set"
    return new


@conformance(D + "deployment should support proportional scaling [Conformance]",
             basename="deployment", needs=("containers",))
def proportional_scaling(c: Ctx) -> None:
    name, replicas = "webserver-deployment", 10
    d = new_deployment(name, replicas, {"name": WEBSERVER_NAME}, WEBSERVER_NAME, WEBSERVER)
    _strategy(d, 3, 2)
    created = c.apps.create_namespaced_deployment(c.ns, d)
    wait_observed(c, name, created.metadata.generation)
    verify_pods_running(c, WEBSERVER_NAME, replicas)
    _complete(c, name)
    first = _new_rs(c, name)
    # a non-existent image blocks the new replica set: a partial rollout
    d = update_deployment(c, name, lambda x: setattr(x.spec.template.spec.containers[0], "image",
                                                     "webserver:404"))
    wait_observed(c, name, d.metadata.generation)
    min_available = replicas - 2          # replicas - maxUnavailable
    rs_available(c, first, min_available)
    rs_spec_replicas(c, first, min_available)
    rs_desired(c, c.apps.read_namespaced_replica_set(first.metadata.name, c.ns))
    second = _new_rs(c, name)
    assert (second.status.available_replicas or 0) == 0, \
        f"second rollout's replica set has {second.status.available_replicas} available"
    rs_spec_replicas(c, second, replicas + 3 - min_available)  # + maxSurge - first's
    rs_desired(c, c.apps.read_namespaced_replica_set(second.metadata.name, c.ns))
    assert (d.status.available_replicas or 0) >= min_available, \
        f"observed {d.status.available_replicas} available replicas, less than min required {min_available}"
    update_deployment(c, name, lambda x: setattr(x.spec, "replicas", 30))
    first = c.apps.read_namespaced_replica_set(first.metadata.name, c.ns)
    second = c.apps.read_namespaced_replica_set(second.metadata.name, c.ns)
    rs_spec_replicas(c, first, 20)   # 8 + 20 * 8/13, rounded
    rs_spec_replicas(c, second, 13)  # 5 + 20 * 5/13, rounded


def _complete(c: Ctx, name: str, rolling: bool = False) -> Any:
    """upstream's WaitForDeploymentComplete (and, rolling, ...AndCheckRolling: at no poll
    may availability drop under replicas - maxUnavailable or pods exceed replicas +
    maxSurge)."""
    def done() -> Any:
        d = c.apps.read_namespaced_deployment(name, c.ns)
        s, want = d.status, d.spec.replicas
        if rolling:
            ru = d.spec.strategy.rolling_update
            assert (s.available_replicas or 0) >= want - int(ru.max_unavailable), \
                f"{s.available_replicas} available replicas, fewer than {want} - maxUnavailable"
            assert (s.replicas or 0) <= want + int(ru.max_surge), \
                f"{s.replicas} total pods, more than {want} + maxSurge"
        ok = (s.updated_replicas == want and s.replicas == want and s.available_replicas == want
              and (s.observed_generation or 0) >= d.metadata.generation)
        return d if ok else None
    return poll(done, LONG, f"deployment {name} to complete", POLL)


def _replicas(rs: Any, n: int) -> None:
    """upstream's ensureReplicas."""
    assert rs.spec.replicas == n and (rs.status.replicas or 0) == n, \
        f"replica set {rs.metadata.name}: spec {rs.spec.replicas}, status {rs.status.replicas}, want {n}"


@conformance(D + "deployment should support rollover [Conformance]", basename="deployment",
             needs=("containers",))
def rollover(c: Ctx) -> None:
    pod, rs_name, name = "rollover-pod", "test-rollover-controller", "test-rollover-deployment"
    c.apps.create_namespaced_replica_set(c.ns, new_rs(rs_name, 1, {"name": pod, "pod": WEBSERVER_NAME},
                                                      WEBSERVER_NAME, WEBSERVER))
    verify_pods_running(c, pod, 1)
    poll(lambda: (c.apps.read_namespaced_replica_set(rs_name, c.ns).status.ready_replicas or 0) == 1,
         LONG, f"replica set {rs_name} to be ready", POLL)
    bad = "gcr.io/google_samples/gb-redisslave:nonexistent"  # never finishes: cannot be pulled
    d = new_deployment(name, 1, {"name": pod}, "redis-slave", bad)
    _strategy(d, 1, 0)
    d.spec.min_ready_seconds = 10
    c.apps.create_namespaced_deployment(c.ns, d)
    d = c.apps.read_namespaced_deployment(name, c.ns)
    gen = d.metadata.generation
    poll(lambda: (lambda x: (x.status.observed_generation or 0) >= gen
                  and (x.status.updated_replicas or 0) >= 1)(c.apps.read_namespaced_deployment(name, c.ns)),
         LONG, f"deployment {name} to have updated replicas", POLL)
    d = c.apps.read_namespaced_deployment(name, c.ns)
    new = _new_rs(c, name)
    assert (d.metadata.annotations or {}).get(REVISION) == "1" == (new.metadata.annotations or {}).get(REVISION), \
        "deployment and its new replica set should be at revision 1"
    assert new.spec.template.spec.containers[0].image == bad
    _replicas(c.apps.read_namespaced_replica_set(rs_name, c.ns), 1)
    _replicas(new, 1)

    def to_agnhost(x: Any) -> None:
        x.spec.template.spec.containers[0].name = AGNHOST_NAME
        x.spec.template.spec.containers[0].image = AGNHOST
    d = update_deployment(c, name, to_agnhost)
    wait_observed(c, name, d.metadata.generation)
    wait_revision_and_image(c, name, "2", AGNHOST)
    _complete(c, name, rolling=True)
    _replicas(c.apps.read_namespaced_replica_set(rs_name, c.ns), 0)
    _replicas(c.apps.read_namespaced_replica_set(new.metadata.name, c.ns), 0)
