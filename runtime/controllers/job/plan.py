"""Job semantics as pure functions (upstream pkg/controller/job): spec defaults, pod
construction (labels, tracking finalizer, completion index), which pods count as
failed, which active pods to remove first, how many pods to want, conditions, the
pod-failure back-off and the TTL-after-finished expiry.

Must never do I/O, read a clock (`now` is a parameter) or mutate its inputs.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

from runtime.controllers.job import indexes as jx
from runtime.util.meta import is_terminating, meta
from runtime.util.pods import is_ready, phase, pod_from_template, restart_count
from runtime.util.times import format_time, parse_time

Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_LABELS = ("controller-uid", "job-name")


# -- spec -----------------------------------------------------------------------------------
def spec(job: Mapping[str, Any]) -> Mapping[str, Any]:
    return job.get("spec") or {}


def completions(job: Mapping[str, Any]) -> int | None:
    c = spec(job).get("completions")
    return None if c is None else int(c)


def parallelism(job: Mapping[str, Any]) -> int:
    p = spec(job).get("parallelism")
    return 1 if p is None else int(p)


def backoff_limit(job: Mapping[str, Any]) -> int:
    b = spec(job).get("backoffLimit")
    return 6 if b is None else int(b)


def is_indexed(job: Mapping[str, Any]) -> bool:
    return spec(job).get("completionMode") == "Indexed" and completions(job) is not None


def is_suspended(job: Mapping[str, Any]) -> bool:
    return bool(spec(job).get("suspend"))


# -- conditions -----------------------------------------------------------------------------
def find_condition(job: Mapping[str, Any], type_: str) -> Obj | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def is_true(job: Mapping[str, Any], type_: str) -> bool:
    c = find_condition(job, type_)
    return c is not None and c.get("status") == "True"


def is_finished(job: Mapping[str, Any]) -> bool:
    return is_true(job, "Complete") or is_true(job, "Failed")


def new_condition(type_: str, status: str, reason: str, message: str, now: dt.datetime) -> Obj:
    t = format_time(now)
    return {"type": type_, "status": status, "lastProbeTime": t, "lastTransitionTime": t,
            "reason": reason, "message": message}


def ensure_condition(conditions: list[Obj], type_: str, status: str, reason: str, message: str,
                     now: dt.datetime) -> tuple[list[Obj], bool]:
    """Upstream ensureJobConditionStatus: never adds a False condition from nothing."""
    out = [dict(c) for c in conditions]
    for i, c in enumerate(out):
        if c.get("type") == type_:
            if (c.get("status"), c.get("reason"), c.get("message")) == (status, reason, message):
                return out, False
            out[i] = new_condition(type_, status, reason, message, now)
            return out, True
    if status == "False":
        return out, False
    return out + [new_condition(type_, status, reason, message, now)], True


# -- pods -----------------------------------------------------------------------------------
def has_finalizer(pod: Mapping[str, Any]) -> bool:
    return TRACKING_FINALIZER in (meta(pod).get("finalizers") or [])


def is_pod_failed(pod: Mapping[str, Any]) -> bool:
    """Failed, or deleted before succeeding (an orphan never reaches Failed)."""
    return phase(pod) == "Failed" or (is_terminating(pod) and phase(pod) != "Succeeded")


def _index_env(spec_: Obj) -> None:
    env = {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
        "fieldPath": f"metadata.annotations['{jx.INDEX_ANNOTATION}']"}}}
    for c in list(spec_.get("initContainers") or []) + list(spec_.get("containers") or []):
        if not any(e.get("name") == "JOB_COMPLETION_INDEX" for e in c.get("env") or []):
            c["env"] = list(c.get("env") or []) + [copy.deepcopy(env)]


def new_pod(job: Mapping[str, Any], index: int | None, owner_ref: Obj) -> Obj:
    name = meta(job)["name"]
    generate = f"{name}-" if index is None else f"{name}-{index}-"
    pod = pod_from_template(spec(job).get("template") or {}, owner_ref,
                            meta(job).get("namespace", ""), generate_name=generate)
    md = pod["metadata"]
    if not spec(job).get("manualSelector"):
        labels = md.setdefault("labels", {})
        for k, v in ((CONTROLLER_UID_LABEL, meta(job)["uid"]), (JOB_NAME_LABEL, name),
                     ("controller-uid", meta(job)["uid"]), ("job-name", name)):
            labels.setdefault(k, v)
    finalizers = md.setdefault("finalizers", [])
    if TRACKING_FINALIZER not in finalizers:
        finalizers.append(TRACKING_FINALIZER)
    if index is not None:
        md.setdefault("annotations", {})[jx.INDEX_ANNOTATION] = str(index)
        md.setdefault("labels", {})[jx.INDEX_LABEL] = str(index)
        pod["spec"]["hostname"] = f"{name}-{index}"
        _index_env(pod["spec"])
    return pod


def _ready_since(pod: Mapping[str, Any]) -> float:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready" and c.get("status") == "True":
            t = parse_time(c.get("lastTransitionTime"))
            return t.timestamp() if t else 0.0
    return 0.0


def removal_order(pod: Mapping[str, Any]) -> tuple[Any, ...]:
    """Upstream controller.ActivePods: the pod to remove first sorts first (unscheduled,
    pending, not ready, ready for less time, more restarts, newer)."""
    phases = {"Pending": 0, "Unknown": 1, "Running": 2}
    created = parse_time(meta(pod).get("creationTimestamp"))
    return (bool((pod.get("spec") or {}).get("nodeName")), phases.get(phase(pod), 0),
            is_ready(pod), -_ready_since(pod), -restart_count(pod),
            -(created.timestamp() if created else float("inf")))


def pods_for_removal(job: Mapping[str, Any], active: list[Obj], at_least: int) -> list[Obj]:
    rm: list[Obj] = []
    left = active
    if is_indexed(job):
        rm, left = jx.surplus_pods(active, completions(job) or 0, removal_order)
    if len(rm) < at_least:
        rm += sorted(left, key=removal_order)[:at_least - len(rm)]
    return rm


def want_active(job: Mapping[str, Any], succeeded: int, active: int) -> int:
    c = completions(job)
    if c is None:
        return active if succeeded > 0 else parallelism(job)
    return max(0, min(c - succeeded, parallelism(job)))


def is_complete(job: Mapping[str, Any], succeeded: int, active: int) -> bool:
    c = completions(job)
    if c is None:
        return succeeded > 0 and active == 0
    return succeeded >= c and active == 0


def past_backoff_limit_on_failure(job: Mapping[str, Any], pods: list[Obj]) -> bool:
    """restartPolicy OnFailure: container restarts of running pods count as failures."""
    if ((spec(job).get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    total = sum(restart_count(p) for p in pods if phase(p) in ("Running", "Pending"))
    limit = backoff_limit(job)
    return total > 0 if limit == 0 else total >= limit


def deadline(job: Mapping[str, Any]) -> dt.datetime | None:
    ads = spec(job).get("activeDeadlineSeconds")
    start = parse_time((job.get("status") or {}).get("startTime"))
    if ads is None or start is None or is_suspended(job):
        return None
    return start + dt.timedelta(seconds=int(ads))


def ttl_expiry(job: Mapping[str, Any]) -> dt.datetime | None:
    """When a finished job with ttlSecondsAfterFinished may be deleted."""
    ttl = spec(job).get("ttlSecondsAfterFinished")
    if ttl is None or not is_finished(job):
        return None
    cond = find_condition(job, "Complete") if is_true(job, "Complete") else find_condition(
        job, "Failed")
    finished = parse_time((job.get("status") or {}).get("completionTime")) or parse_time(
        (cond or {}).get("lastTransitionTime"))
    return None if finished is None else finished + dt.timedelta(seconds=int(ttl))


# -- back-off -------------------------------------------------------------------------------
def finish_time(pod: Mapping[str, Any], now: dt.datetime) -> dt.datetime:
    st = pod.get("status") or {}
    times = [parse_time(((s.get("state") or {}).get("terminated") or {}).get("finishedAt"))
             for s in st.get("containerStatuses") or []]
    found = [t for t in times if t is not None]
    return max(found) if found else now


@dataclass(frozen=True)
class Backoff:
    """Failures since the last success and when the last one happened (upstream
    backoffRecord); the next pod waits base * 2^(failures-1), capped."""

    failures: int = 0
    last_failure: dt.datetime | None = None

    def after(self, succeeded: list[dt.datetime], failed: list[dt.datetime]) -> Backoff:
        if not succeeded:
            if not failed:
                return self
            return Backoff(self.failures + len(failed), max(failed))
        last_success = max(succeeded)
        later = sorted(t for t in failed if t > last_success)
        return Backoff(len(later), later[-1] if later else None)

    def remaining(self, now: dt.datetime, base: float, cap: float) -> float:
        if self.failures == 0 or self.last_failure is None:
            return 0.0
        delay = min(cap, base * (2 ** (self.failures - 1)))
        elapsed = (now - self.last_failure).total_seconds()
        return max(0.0, delay - elapsed)
