"""Job status tracking with the `batch.kubernetes.io/job-tracking` pod finalizer
(upstream trackJobStatusAndRemoveFinalizers): finished pods are first recorded in
`status.uncountedTerminatedPods` (or, for Indexed Jobs, `completedIndexes`), then their
finalizers are removed, then they move into the `succeeded`/`failed` counters; only when
nothing is uncounted and nothing is terminating does the Job get its terminal
condition (Complete after SuccessCriteriaMet, Failed after FailureTarget).

This ordering is what makes counting exact across crashes and stale caches: a pod is
counted once, because its UID leaves the uncounted list only after its finalizer is gone.

Writes Job status (with optimistic concurrency) and pod finalizers only, through the
REST client; never mutates cached objects (it works on the caller's copy).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from runtime.client.events import EventRecorder
from runtime.client.resources import JOBS, PODS
from runtime.client.rest import ApiError, Client
from runtime.controllers.job import indexes as jx
from runtime.controllers.job import plan as jp
from runtime.util.meta import meta
from runtime.util.pods import phase
from runtime.util.times import format_time

Obj = dict[str, Any]

MAX_UNCOUNTED = 500  # upstream MaxUncountedPods: keeps the status small

REMOVE_FINALIZER_PATCH = {"metadata": {"$deleteFromPrimitiveList/finalizers": [
    jp.TRACKING_FINALIZER]}}


@dataclass
class SyncCtx:
    """One sync of one Job; `job` is a private copy whose status is being rebuilt."""

    job: Obj
    pods: list[Obj]
    now: dt.datetime
    active: list[Obj] = field(default_factory=list)
    terminating: int = 0
    ready: int = 0
    succeeded: int = 0
    failed: int = 0
    succeeded_indexes: set[int] = field(default_factory=set)
    new_succeeded: list[Obj] = field(default_factory=list)
    new_failed: list[Obj] = field(default_factory=list)
    finished: Obj | None = None  # the condition the Job is heading to

    @property
    def status(self) -> Obj:
        return self.job.setdefault("status", {})


def uncounted(job: Obj) -> tuple[list[str], list[str]]:
    u = (job.get("status") or {}).get("uncountedTerminatedPods") or {}
    return list(u.get("succeeded") or []), list(u.get("failed") or [])


async def remove_finalizer(client: Client, pod: Obj) -> bool:
    """True once the pod no longer holds the finalizer (or is gone)."""
    try:
        await client.patch(PODS, meta(pod)["name"], REMOVE_FINALIZER_PATCH,
                           meta(pod).get("namespace"), patch_type="strategic")
    except ApiError as e:
        if not e.not_found:
            raise
    return True


def _clean_uncounted(status: Obj, with_finalizer: set[str]) -> bool:
    """Counters take the uncounted UIDs whose finalizer is gone; True if changed."""
    u = status.get("uncountedTerminatedPods") or {}
    changed = False
    for kind, counter in (("succeeded", "succeeded"), ("failed", "failed")):
        uids = list(u.get(kind) or [])
        keep = [x for x in uids if x in with_finalizer]
        if len(keep) != len(uids):
            changed = True
            status[counter] = int(status.get(counter) or 0) + len(uids) - len(keep)
            u[kind] = keep
    status["uncountedTerminatedPods"] = u
    return changed


def _classify(c: SyncCtx) -> tuple[list[Obj], list[int], bool]:
    """Pods whose finalizer may go now, new succeeded indexes, and whether status changed."""
    job, u = c.job, c.status.setdefault("uncountedTerminatedPods", {})
    u_succ, u_fail = list(u.get("succeeded") or []), list(u.get("failed") or [])
    completions = jp.completions(job) or 0
    failing = c.finished is not None and c.finished["type"] in ("FailureTarget", "Failed")
    to_remove: list[Obj] = []
    new_ix: list[int] = []
    changed = False
    for pod in c.pods:
        if not jp.has_finalizer(pod):
            continue
        uid, failed = meta(pod)["uid"], jp.is_pod_failed(pod)
        if not (meta(job).get("deletionTimestamp") or c.finished or phase(pod) == "Succeeded"
                or failed):
            continue
        to_remove.append(pod)
        if phase(pod) == "Succeeded" and uid not in u_fail:
            ix = jx.valid_index(pod, completions) if jp.is_indexed(job) else None
            if jp.is_indexed(job):
                if ix is not None and ix not in c.succeeded_indexes:
                    new_ix.append(ix)
                    changed = True
            elif uid not in u_succ:
                u_succ.append(uid)
                changed = True
        elif (failed or failing) and uid not in u_fail:
            if not jp.is_indexed(job) or jx.valid_index(pod, completions) is not None:
                u_fail.append(uid)
                changed = True
        if len(new_ix) + len(u_succ) + len(u_fail) >= MAX_UNCOUNTED:
            break
    u["succeeded"], u["failed"] = u_succ, u_fail
    return to_remove, new_ix, changed


async def track(client: Client, recorder: EventRecorder, c: SyncCtx, needs_flush: bool) -> Obj:
    """Record finished pods, release their finalizers, count them, maybe finish the Job.
    Returns the Job as last written."""
    with_finalizer = {meta(p)["uid"] for p in c.pods if jp.has_finalizer(p)}
    needs_flush = _clean_uncounted(c.status, with_finalizer) or needs_flush
    to_remove, new_ix, changed = _classify(c)
    needs_flush = needs_flush or changed
    if jp.is_indexed(c.job):
        c.succeeded_indexes |= set(new_ix)
        text = jx.format_indexes(c.succeeded_indexes)
        needs_flush = needs_flush or text != c.status.get("completedIndexes", "")
        c.status["completedIndexes"], c.status["succeeded"] = text, len(c.succeeded_indexes)
    needs_flush = _interim_condition(c) or needs_flush
    if needs_flush:
        c.job = await client.update_status(JOBS, c.job)
        needs_flush = False
    for pod in to_remove:
        if await remove_finalizer(client, pod):
            with_finalizer.discard(meta(pod)["uid"])
    needs_flush = _clean_uncounted(c.status, with_finalizer) or needs_flush
    finished = _enact_finished(c)
    if needs_flush or finished:
        c.job = await client.update_status(JOBS, c.job)
    if finished and c.finished is not None:
        await _record_finished(recorder, c.job, c.finished)
    return c.job


def _interim_condition(c: SyncCtx) -> bool:
    """FailureTarget / SuccessCriteriaMet go in before finalizers are removed."""
    if c.finished is None or c.finished["type"] not in ("FailureTarget", "SuccessCriteriaMet"):
        return False
    conds = list(c.status.get("conditions") or [])
    added = False
    if not any(x.get("type") == c.finished["type"] for x in conds):
        c.status["conditions"] = conds + [dict(c.finished)]
        added = True
    final = "Failed" if c.finished["type"] == "FailureTarget" else "Complete"
    c.finished = jp.new_condition(final, "True", c.finished.get("reason", ""),
                                  c.finished.get("message", ""), c.now)
    return added


def _enact_finished(c: SyncCtx) -> bool:
    if c.finished is None:
        return False
    u_succ, u_fail = uncounted(c.job)
    if u_succ or u_fail or c.terminating > 0:
        return False
    f = c.finished
    c.status["conditions"], _ = jp.ensure_condition(list(c.status.get("conditions") or []),
                                                    f["type"], f["status"], f.get("reason", ""),
                                                    f.get("message", ""), c.now)
    if f["type"] == "Complete":
        c.status["completionTime"] = format_time(c.now)
    return True


async def _record_finished(recorder: EventRecorder, job: Obj, cond: Obj) -> None:
    if cond["type"] == "Complete":
        c = jp.completions(job)
        if c is not None and int((job.get("status") or {}).get("succeeded") or 0) > c:
            await recorder.warning(job, "TooManySucceededPods",
                                   "Too many succeeded pods running after completion count reached")
        await recorder.normal(job, "Completed", "Job completed")
    else:
        await recorder.warning(job, cond.get("reason", ""), cond.get("message", ""))
