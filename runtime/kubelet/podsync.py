"""What a real kubelet does next for one pod, from the pod spec and the containers the
runtime reports: a pure, level-based decision (upstream's computePodActions).

Given the containers that exist now, `plan` says which sandbox/containers to start (init
containers one at a time, in order, to completion first), which to stop, which old dead
instances to remove, and which containers wait in CrashLoopBackOff and until when. It
owns the restart policy and the crash back-off bookkeeping (a `Backoff` passed in). It
must never do I/O or read a clock: `now` is an argument.

Sidecars (init containers with restartPolicy Always) start in their turn among the init
containers, and the next one starts only once the sidecar has started (its startup
probe passed: `unstarted` lists the running ids that have not); they are restarted
whenever they exit, with the same back-off, and once every regular container has
finished for good they are stopped, last one first, so they never hold a Job's pod.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.kubelet.backoff import Backoff, duration
from runtime.kubelet.cri import ContainerInfo

Obj = dict[str, Any]
KEEP_DEAD = 2  # instances kept per container: the current one and the previous (logs -p)


@dataclass
class Plan:
    start_sandbox: int | None = None             # the sandbox attempt to start
    start: list[tuple[Obj, int, bool]] = field(default_factory=list)  # (spec, attempt, init)
    stop: list[ContainerInfo] = field(default_factory=list)
    remove: list[ContainerInfo] = field(default_factory=list)
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> reason, msg
    resync_at: float | None = None

    def wake(self, at: float) -> None:
        self.resync_at = at if self.resync_at is None else min(self.resync_at, at)


def instances(containers: list[ContainerInfo], name: str, init: bool) -> list[ContainerInfo]:
    """A container's instances, oldest attempt first."""
    return sorted((c for c in containers if c.name == name and c.init == init
                   and not c.sandbox), key=lambda c: (c.attempt, c.created_at))


def sandboxes(containers: list[ContainerInfo]) -> list[ContainerInfo]:
    return sorted((c for c in containers if c.sandbox), key=lambda c: (c.attempt, c.created_at))


def succeeded(c: ContainerInfo | None) -> bool:
    return c is not None and c.state == "exited" and c.exit_code == 0


def should_restart(policy: str, c: ContainerInfo) -> bool:
    return policy == "Always" or (policy == "OnFailure" and not succeeded(c))


def pod_ref(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def is_sidecar(spec: Obj) -> bool:
    """An init container that keeps running beside the app (a restartable init container)."""
    return spec.get("restartPolicy") == "Always"


def plan(pod: Obj, containers: list[ContainerInfo], backoff: Backoff, now: float,
         unstarted: frozenset[str] = frozenset()) -> Plan:
    p = Plan()
    spec = pod.get("spec") or {}
    terminal = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
    _collect_garbage(pod, containers, p)
    boxes = sandboxes(containers)
    sandbox = boxes[-1] if boxes else None
    if terminal:
        p.stop = [c for c in containers if c.running]
        return p
    if sandbox is None or not sandbox.running:
        # a new (or replaced) sandbox: whatever ran in the old one goes with it
        p.stop = [c for c in containers if c.running and not c.sandbox]
        p.start_sandbox = sandbox.attempt + 1 if sandbox else 0
        return p
    policy = spec.get("restartPolicy") or "Always"
    if _apps_done(spec, containers, policy):  # only sidecars still run: stop them
        p.stop = [c for s in reversed(spec.get("initContainers") or []) if is_sidecar(s)
                  for c in instances(containers, s["name"], True) if c.running]
        return p
    if not _plan_init(pod, containers, policy, backoff, now, p, unstarted):
        return p
    for c in spec.get("containers") or []:
        _plan_one(pod, c, instances(containers, c["name"], False), policy, False,
                  backoff, now, p)
    return p


def _apps_done(spec: Obj, containers: list[ContainerInfo], policy: str) -> bool:
    """Every regular container ran and will not run again (a finished Job's pod)."""
    if policy == "Always":
        return False
    for c in spec.get("containers") or []:
        insts = instances(containers, c["name"], False)
        if not insts or insts[-1].state != "exited" or should_restart(policy, insts[-1]):
            return False
    return True


def _plan_init(pod: Obj, containers: list[ContainerInfo], policy: str, backoff: Backoff,
               now: float, p: Plan, unstarted: frozenset[str]) -> bool:
    """Drive the init containers; True once every regular one has succeeded and every
    sidecar has started (a sidecar that exits later is restarted beside the app)."""
    spec = pod.get("spec") or {}
    app_started = any(instances(containers, c["name"], False)
                      for c in spec.get("containers") or [])
    for c in spec.get("initContainers") or []:
        insts = instances(containers, c["name"], True)
        if is_sidecar(c):
            current = insts[-1] if insts else None
            if current is not None and current.running and current.id not in unstarted:
                continue
            if current is None or not current.running:
                _plan_one(pod, c, insts, "Always", True, backoff, now, p)
            if app_started:
                continue
            return False
        if succeeded(insts[-1] if insts else None):
            continue
        # init containers restart on failure unless the pod's policy is Never
        _plan_one(pod, c, insts, "Never" if policy == "Never" else "OnFailure", True,
                  backoff, now, p)
        return False
    return True


def _plan_one(pod: Obj, c: Obj, insts: list[ContainerInfo], policy: str, init: bool,
              backoff: Backoff, now: float, p: Plan) -> None:
    current = insts[-1] if insts else None
    if current is None:
        p.start.append((c, 0, init))
        return
    if current.running or not should_restart(policy, current):
        return
    key = f"{current.pod_uid}/{c['name']}"
    finished = current.finished_ts or now
    if backoff.in_backoff_since(key, finished, now):
        delay = backoff.delay(key)
        p.waiting[c["name"]] = ("CrashLoopBackOff",
                                f"back-off {duration(delay)} restarting failed "
                                f"container={c['name']} pod={pod_ref(pod)}")
        p.wake(finished + delay)
        return
    backoff.next(key, now)  # upstream stamps the restart time: 10 min of running resets
    p.start.append((c, current.attempt + 1, init))


def _collect_garbage(pod: Obj, containers: list[ContainerInfo], p: Plan) -> None:
    """Dead instances beyond the newest KEEP_DEAD per container, and dead sandboxes but
    the newest, are removed."""
    groups: dict[tuple[str, bool], list[ContainerInfo]] = {}
    for c in containers:
        groups.setdefault((c.name, c.init), []).append(c)
    for group in groups.values():
        group.sort(key=lambda c: (c.attempt, c.created_at))
        keep = 1 if group[0].sandbox else KEEP_DEAD
        p.remove += [c for c in group[:-keep] if not c.running]
