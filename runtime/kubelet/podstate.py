"""The pod lifecycle of one (simulated) node as a pure state machine: events in, actions out.

It owns the per-pod stage (starting -> running -> done | terminating), pod IP allocation
from the node's fake range, and the pod status documents the node reports. It must never
do I/O, read a clock or sleep: time arrives inside events (epoch seconds), timers leave as
`SetTimer` actions, and the shell (runtime/kubelet/simulated.py) performs the writes.
Pods read from the informer cache are never mutated.

Behaviour the shell's callers can steer per pod, with annotations (kwok-like stages):

  sim.kapi.dev/complete-after: "<seconds>"  containers exit after this long once Running;
        applies to Job-owned pods (default `Timing.complete_after`) and to pods with
        restartPolicy Never/OnFailure that carry the annotation. Other pods run forever.
  sim.kapi.dev/exit-code: "<n>"  the exit code of that exit (default 0). Non-zero with
        restartPolicy Never makes the pod Failed; with OnFailure the containers restart.
  sim.kapi.dev/ready: "false"  containers run but never become ready.

spec.activeDeadlineSeconds is enforced as upstream's kubelet does: counted from the pod's
start, a pod still running past it is killed and reported Failed with reason
DeadlineExceeded; the deadline may be shortened while the pod runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.kubelet.podstatus import finished_status, running_status
from runtime.util.times import format_timestamp as rfc3339
from runtime.util.times import parse_time

Obj = dict[str, Any]

COMPLETE_AFTER = "sim.kapi.dev/complete-after"
EXIT_CODE = "sim.kapi.dev/exit-code"
READY = "sim.kapi.dev/ready"


# -- events ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PodSeen:
    """The pod as the node's watch last delivered it (added or modified)."""
    pod: Obj
    now: float


@dataclass(frozen=True)
class PodGone:
    key: str


@dataclass(frozen=True)
class TimerFired:
    """The timer set for `at` (the token matching it to the stage that set it) fired."""
    key: str
    now: float
    at: float


Event = PodSeen | PodGone | TimerFired


# -- actions -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SetTimer:
    key: str
    at: float


@dataclass(frozen=True)
class WriteStatus:
    namespace: str
    name: str
    status: Obj


@dataclass(frozen=True)
class DeletePod:
    """Finish a graceful deletion: gracePeriodSeconds=0 with a uid precondition."""
    namespace: str
    name: str
    uid: str


Action = SetTimer | WriteStatus | DeletePod


@dataclass(frozen=True)
class Timing:
    start_delay: float = 0.2       # bound -> Running
    complete_after: float = 1.0    # Running -> Succeeded for Job pods without annotation


@dataclass
class _Record:
    uid: str
    pod: Obj
    stage: str  # starting | running | done | terminating
    due: float = 0.0
    ip: str = ""
    started_at: str = ""
    restarts: int = 0
    started: float = 0.0   # epoch seconds of started_at
    deadline: float = 0.0  # activeDeadlineSeconds after `started` (0: none)


def key_of(pod: Obj) -> str:
    meta = pod["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


@dataclass
class PodStateMachine:
    node_name: str
    host_ip: str
    pod_ip_prefix: str  # e.g. "10.128.3." : pods get .2 .. .254
    timing: Timing = field(default_factory=Timing)
    records: dict[str, _Record] = field(default_factory=dict)
    _used_ips: set[str] = field(default_factory=set)

    def handle(self, event: Event) -> list[Action]:
        if isinstance(event, PodSeen):
            return self._seen(event.pod, event.now)
        if isinstance(event, TimerFired):
            return self._timer(event.key, event.now, event.at)
        self._drop(event.key)
        return []

    # -- transitions ---------------------------------------------------------------------
    def _seen(self, pod: Obj, now: float) -> list[Action]:
        key, meta = key_of(pod), pod["metadata"]
        rec = self.records.get(key)
        if rec is not None and rec.uid != meta.get("uid"):
            self._drop(key)  # a new pod under an old name
            rec = None
        if rec is not None:
            rec.pod = pod
        if meta.get("deletionTimestamp"):
            return self._terminate(key, pod, rec, now)
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            self._settle(key, pod, rec)
            return []
        if rec is None:
            return self._admit(key, pod, now)
        return self._plan_deadline(key, rec)

    def _admit(self, key: str, pod: Obj, now: float) -> list[Action]:
        status = pod.get("status") or {}
        ip = status.get("podIP", "")
        if status.get("phase") == "Running" and (ip.startswith(self.pod_ip_prefix)
                                                 or ip == self.host_ip):
            started = parse_time(status.get("startTime"))
            rec = _Record(meta_uid(pod), pod, "running", ip=ip,
                          started_at=status.get("startTime", rfc3339(now)),
                          started=started.timestamp() if started else now)
            self.records[key] = rec
            self._used_ips.add(ip)  # adopted after a restart of the node's process
            return self._plan_exit(key, rec, now) + self._plan_deadline(key, rec)
        rec = _Record(meta_uid(pod), pod, "starting", due=now + self.timing.start_delay)
        self.records[key] = rec
        return [SetTimer(key, rec.due)]

    def _timer(self, key: str, now: float, at: float) -> list[Action]:
        rec = self.records.get(key)
        if rec is not None and rec.deadline and at == rec.deadline and \
                rec.stage == "running":
            return self._deadline_exceeded(rec, now)
        if rec is None or at != rec.due:
            return []  # a stale timer, set by an earlier stage or an earlier pod
        if rec.stage == "starting":
            return self._start(key, rec, now)
        if rec.stage == "running":
            return self._exit(key, rec, now)
        return []

    def _start(self, key: str, rec: _Record, now: float) -> list[Action]:
        rec.ip = self.host_ip if (rec.pod.get("spec") or {}).get("hostNetwork") else \
            self._allocate_ip()
        rec.stage, rec.started_at, rec.started = "running", rfc3339(now), now
        actions: list[Action] = [self._write(rec, self._running(rec, now))]
        return actions + self._plan_exit(key, rec, now) + self._plan_deadline(key, rec)

    def _plan_deadline(self, key: str, rec: _Record) -> list[Action]:
        """A timer for the pod's active deadline, when it has one that changed."""
        seconds = (rec.pod.get("spec") or {}).get("activeDeadlineSeconds")
        if rec.stage != "running" or not isinstance(seconds, int) or seconds <= 0:
            return []
        at = rec.started + seconds
        if at == rec.deadline:
            return []
        rec.deadline = at
        return [SetTimer(key, at)]

    def _deadline_exceeded(self, rec: _Record, now: float) -> list[Action]:
        rec.stage = "done"
        self._release(rec)
        status = self._finished(rec, now, 137) | {
            "phase": "Failed", "reason": "DeadlineExceeded",
            "message": "Pod was active on the node longer than the specified deadline"}
        return [self._write(rec, status)]

    def _plan_exit(self, key: str, rec: _Record, now: float) -> list[Action]:
        after = completes_after(rec.pod, self.timing)
        if after is None:
            return []
        rec.due = now + after
        return [SetTimer(key, rec.due)]

    def _exit(self, key: str, rec: _Record, now: float) -> list[Action]:
        code = exit_code(rec.pod)
        policy = (rec.pod.get("spec") or {}).get("restartPolicy", "Always")
        if code != 0 and policy == "OnFailure":
            rec.restarts += 1
            status = self._running(rec, now, last_exit=code)
            return [self._write(rec, status)] + self._plan_exit(key, rec, now)
        rec.stage = "done"
        self._release(rec)
        return [self._write(rec, self._finished(rec, now, code))]

    def _terminate(self, key: str, pod: Obj, rec: _Record | None, now: float) -> list[Action]:
        if rec is not None and rec.stage == "terminating":
            return []
        if rec is None:
            rec = self.records[key] = _Record(meta_uid(pod), pod, "terminating")
        was_running = rec.stage == "running"
        rec.stage = "terminating"
        meta = pod["metadata"]
        actions: list[Action] = []
        if was_running:
            actions.append(self._write(rec, self._finished(rec, now, 0, keep_phase=True)))
        return actions + [DeletePod(meta.get("namespace", ""), meta["name"], rec.uid)]

    def _settle(self, key: str, pod: Obj, rec: _Record | None) -> None:
        if rec is None:
            self.records[key] = _Record(meta_uid(pod), pod, "done")
        elif rec.stage != "terminating":
            rec.stage = "done"
            self._release(rec)

    def _drop(self, key: str) -> None:
        rec = self.records.pop(key, None)
        if rec is not None:
            self._release(rec)

    # -- helpers -------------------------------------------------------------------------
    def _running(self, rec: _Record, now: float, last_exit: int | None = None) -> Obj:
        return running_status(rec.pod, host_ip=self.host_ip, pod_ip=rec.ip,
                              started_at=rec.started_at, now=rfc3339(now),
                              restarts=rec.restarts, last_exit=last_exit)

    def _finished(self, rec: _Record, now: float, code: int, keep_phase: bool = False) -> Obj:
        return finished_status(rec.pod, host_ip=self.host_ip, pod_ip=rec.ip,
                               started_at=rec.started_at or rfc3339(now), now=rfc3339(now),
                               code=code, keep_phase=keep_phase)

    def _write(self, rec: _Record, status: Obj) -> WriteStatus:
        meta = rec.pod["metadata"]
        return WriteStatus(meta.get("namespace", ""), meta["name"], status)

    def _allocate_ip(self) -> str:
        for host in range(2, 255):
            ip = f"{self.pod_ip_prefix}{host}"
            if ip not in self._used_ips:
                self._used_ips.add(ip)
                return ip
        return f"{self.pod_ip_prefix}255"  # range exhausted: a shared fake address

    def _release(self, rec: _Record) -> None:
        if rec.ip and rec.ip != self.host_ip:
            self._used_ips.discard(rec.ip)


def meta_uid(pod: Obj) -> str:
    return str(pod["metadata"].get("uid", ""))


def _annotation(pod: Obj, name: str) -> str | None:
    return ((pod.get("metadata") or {}).get("annotations") or {}).get(name)


def completes_after(pod: Obj, timing: Timing) -> float | None:
    """Seconds a running pod's containers run before they exit, or None (forever)."""
    raw = _annotation(pod, COMPLETE_AFTER)
    policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
    job = any(r.get("kind") == "Job" for r in pod["metadata"].get("ownerReferences") or [])
    if raw is not None and policy in ("Never", "OnFailure"):
        try:
            return max(float(raw), 0.0)
        except ValueError:
            return timing.complete_after
    return timing.complete_after if job else None


def exit_code(pod: Obj) -> int:
    try:
        return int(_annotation(pod, EXIT_CODE) or 0)
    except ValueError:
        return 1


