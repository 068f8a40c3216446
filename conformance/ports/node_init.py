"""Ports of test/e2e/common/node/init_container.go: init containers run in order before
the app containers, a failing one keeps the app containers waiting (PodInitializing),
and the PodInitialized condition says so. Each test watches its pod from its creation,
as upstream's watchtools.Until does, through a chain of conditions tried in turn."""

from __future__ import annotations

import time
from typing import Any, Callable

from kubernetes import client

from conformance.framework import POD_START, Ctx, conformance
from conformance.ports.node_common import BUSYBOX, uid
from conformance.watching import until

IC = "InitContainer › "
PAUSE = "kapi/pause:latest"  # stands in for imageutils.GetPauseImageName()
Cond = Callable[[str, Any], bool]


def _pod(init_cmds: list[str], run: client.V1Container, restart: str | None) -> client.V1Pod:
    inits = [client.V1Container(name=f"init{i + 1}", image=BUSYBOX, command=[cmd])
             for i, cmd in enumerate(init_cmds)]
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=f"pod-init-{uid()}", labels={
            "name": "foo", "time": str(time.time_ns() % 1_000_000_000)}),
        spec=client.V1PodSpec(restart_policy=restart, init_containers=inits, containers=[run]))


def _cpu_limited(name: str, image: str, command: list[str] | None = None) -> client.V1Container:
    return client.V1Container(name=name, image=image, command=command,
                              resources=client.V1ResourceRequirements(limits={"cpu": "100m"}))


def _watch(c: Ctx, pod: client.V1Pod, conds: list[Cond], what: str) -> Any:
    """watchtools.Until(PodStartTimeout) with several conditions: an event that meets one
    is also tried against the next; a condition fails the test by raising."""
    started = c.core.create_namespaced_pod(c.ns, pod)
    todo = list(conds)

    def step(etype: str, obj: Any) -> bool:
        if etype == "DELETED":
            raise AssertionError(f"pod {obj.metadata.name} was deleted")
        while todo and todo[0](etype, obj):
            todo.pop(0)
        return not todo
    return until(c.api, c.core.list_namespaced_pod, "V1Pod", started.metadata.resource_version,
                 step, POD_START, what, c.ns,
                 field_selector=f"metadata.name={started.metadata.name}")


def _pod_completed(_t: str, p: Any) -> bool:
    return p.status.phase in ("Failed", "Succeeded")


def _pod_running(_t: str, p: Any) -> bool:
    """conditions.PodRunning: Running; a pod that completed instead is an error."""
    if p.status.phase in ("Failed", "Succeeded"):
        raise AssertionError(f"pod ran to completion ({p.status.phase})")
    return bool(p.status.phase == "Running")


def _initialized(p: Any) -> Any:
    cond = next((x for x in p.status.conditions or [] if x.type == "Initialized"), None)
    assert cond is not None, "pod has no Initialized condition"
    return cond


def _all_inits_done(p: Any) -> None:
    assert len(p.status.init_container_statuses or []) == 2, p.status.init_container_statuses
    for s in p.status.init_container_statuses:
        assert s.ready, f"init container {s.name} should be in Ready status"
        assert s.state.terminated is not None, f"init container {s.name}: {s.state}"
        assert s.state.terminated.exit_code == 0, f"init container {s.name}: {s.state}"


def _app_waiting(p: Any) -> None:
    for s in p.status.container_statuses or []:
        assert s.state.waiting is not None, f"container {s.name!r} should not be out of waiting: {s}"
        assert s.state.waiting.reason == "PodInitializing", \
            f"container {s.name!r} should have reason PodInitializing: {s}"


@conformance(IC + "invoke init containers on a RestartNever pod", basename="init-container",
             needs=("containers",))
def restart_never(c: Ctx) -> None:
    pod = _pod(["/bin/true", "/bin/true"], client.V1Container(
        name="run1", image=BUSYBOX, command=["/bin/true"]), "Never")
    end = _watch(c, pod, [_pod_completed], "the pod to complete")
    assert end.status.phase == "Succeeded", end.status.phase
    assert _initialized(end).status == "True"
    _all_inits_done(end)


@conformance(IC + "invoke init containers on a RestartAlways pod", basename="init-container",
             needs=("containers",))
def restart_always(c: Ctx) -> None:
    pod = _pod(["/bin/true", "/bin/true"], _cpu_limited("run1", PAUSE), None)
    end = _watch(c, pod, [_pod_running], "the pod to run")
    assert end.status.phase == "Running", end.status.phase
    assert _initialized(end).status == "True"
    _all_inits_done(end)


def _not_initialized(end: Any, phase: str, incomplete: str) -> None:
    """How a pod whose init container failed ends: in `phase`, Initialized False with
    the init containers not yet complete named, both init statuses reported."""
    assert end.status.phase == phase, end.status.phase
    init = _initialized(end)
    assert (init.status, init.reason) == ("False", "ContainersNotInitialized"), init
    assert init.message == f"containers with incomplete status: [{incomplete}]", init.message
    assert len(end.status.init_container_statuses) == 2


@conformance(IC + "not start app containers if init containers fail (RestartAlways)",
             basename="init-container", needs=("containers",))
def fail_restart_always(c: Ctx) -> None:
    pod = _pod(["/bin/false", "/bin/true"], _cpu_limited("run1", PAUSE), None)

    def first_failed_once(_t: str, p: Any) -> bool:
        _app_waiting(p)
        inits = p.status.init_container_statuses or []
        if len(inits) != 2:
            return False
        second, first = inits[1], inits[0]
        assert second.state.waiting is not None, f"second init container should not be out of waiting: {second}"
        assert second.state.waiting.reason == "PodInitializing", \
            f"second init container should have reason PodInitializing: {second}"
        assert not (first.state.terminated and first.state.terminated.exit_code == 0), \
            f"first init container should have exitCode != 0: {first}"
        return first.last_state is not None and first.last_state.terminated is not None

    def restarted_thrice(_t: str, p: Any) -> bool:
        return bool(p.status.init_container_statuses[0].restart_count >= 3)
    end = _watch(c, pod, [first_failed_once, restarted_thrice], "init1 to be restarted 3 times")
    _not_initialized(end, "Pending", "init1 init2")


@conformance(IC + "not start app containers and fail the pod if init fails (RestartNever)",
             basename="init-container", needs=("containers",))
def fail_restart_never(c: Ctx) -> None:
    pod = _pod(["/bin/true", "/bin/false"], _cpu_limited("run1", BUSYBOX, ["/bin/true"]), "Never")

    def second_failed(_t: str, p: Any) -> bool:
        _app_waiting(p)
        inits = p.status.init_container_statuses or []
        if len(inits) != 2:
            return False
        first, second = inits
        if first.state.terminated is None:
            if first.state.waiting is not None:
                assert first.state.waiting.reason == "PodInitializing", \
                    f"second init container should have reason PodInitializing: {first}"
            return False
        assert first.state.terminated.exit_code == 0, \
            f"first init container should have exitCode != 0: {first}"  # upstream's wording
        if second.state.terminated is None:
            return False
        assert second.state.terminated.exit_code != 0, f"second init container should have failed: {second}"
        return True
    end = _watch(c, pod, [second_failed, _pod_completed], "init2 to fail and the pod to complete")
    _not_initialized(end, "Failed", "init2")
    assert end.status.container_statuses[0].state.waiting is not None, end.status.container_statuses
