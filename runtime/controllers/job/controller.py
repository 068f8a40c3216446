"""The Job controller: runs pods to completion (upstream pkg/controller/job) —
completions and parallelism, NonIndexed and Indexed completion modes, backoffLimit
with exponential pod-failure back-off, activeDeadlineSeconds, suspend/resume, exact
counting through the job-tracking finalizer (tracking.py), and deletion of finished
Jobs after ttlSecondsAfterFinished.

This module is the I/O shell; the semantics are plan.py and
indexes.py. It must never mutate cached objects, never import kapi/, and
only ever touch pods it owns (plus the finalizer of orphans it once owned).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from runtime.client.resources import JOBS, PODS
from runtime.client.rest import ApiError
from runtime.controllers.base import split_key
from runtime.controllers.common import podcontrol as pc
from runtime.controllers.common import wiring
from runtime.controllers.common.expectations import Expectations
from runtime.controllers.context import ControllerContext
from runtime.controllers.job import indexes as jx
from runtime.controllers.job import plan as jp
from runtime.controllers.job import tracking as jt
from runtime.util.clock import seconds
from runtime.util.meta import controller_ref, controller_uid, is_terminating, meta, owner_reference
from runtime.util.pods import is_active, is_finished, is_ready, phase
from runtime.util.selectors import matches as selector_matches
from runtime.util.times import format_time

log = logging.getLogger(__name__)

Obj = dict[str, Any]
KIND = "Job"
ORPHAN = "orphan:"
MAX_CREATE_PER_SYNC = 500
MANAGED_BY = "kubernetes.io/job-controller"


class JobController(wiring.KindController):
    def __init__(self, ctx: ControllerContext) -> None:
        self.jobs = self.own_kind(ctx, JOBS, "job", ctx.options.job_workers)
        self.pod_control = pc.PodControl(client=ctx.client, recorder=ctx.recorder)
        self.pods = wiring.dependents(ctx.informers, PODS)
        self.expectations = Expectations(clock=seconds(ctx.clock))
        self.backoffs: dict[str, jp.Backoff] = {}
        self.backoff_base = ctx.options.job_backoff_seconds
        self.backoff_max = ctx.options.job_backoff_max_seconds
        self.pods.add_handler(self._on_pod)

    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        key = wiring.owner_of(KIND, old, new)
        if key is not None:
            if event == "add":
                self.expectations.creation_observed(key)
            pod = new or old or {}
            if event == "delete" or is_terminating(pod):
                self.expectations.deletion_observed(key, pc.pod_key(pod))
            self.controller.enqueue(key)
        if new is not None and event != "delete" and jp.has_finalizer(new):
            job = self.jobs.get(key) if key else None
            if job is None or meta(job).get("uid") != controller_uid(new):
                self.controller.enqueue(ORPHAN + pc.pod_key(new))

    # -- reconcile -------------------------------------------------------------------------
    async def reconcile(self, key: str) -> float | None:
        if key.startswith(ORPHAN):
            await self._release_orphan(key[len(ORPHAN):])
            return None
        cached = self.jobs.get(key)
        if cached is None:
            self.expectations.forget(key)
            self.backoffs.pop(key, None)
            return None
        if (cached.get("spec") or {}).get("managedBy", MANAGED_BY) != MANAGED_BY:
            return None  # another controller owns this Job's status (spec.managedBy)
        if jp.is_finished(cached):
            self.backoffs.pop(key, None)
            await self._release_finished(cached)
            return await self._ttl(cached)
        return await self._sync(key, cached)

    async def _sync(self, key: str, cached: Obj) -> float | None:
        pods = await self._claim(cached)
        c = jt.SyncCtx(job=copy.deepcopy(cached), pods=pods, now=self.ctx.clock())
        self._count(c)
        flush = False
        if c.status.get("startTime") is None and not jp.is_suspended(c.job):
            c.status["startTime"] = format_time(c.now)
            flush = True
        again = self._decide_failure(c)
        manage_called = False
        if c.finished is not None:
            await self._delete_active(c)
        else:
            if self.expectations.satisfied(key) and not meta(c.job).get("deletionTimestamp"):
                again = _earliest(again, await self._manage(key, c))
                manage_called = True
            if jp.is_complete(c.job, c.succeeded, len(c.active)):
                c.finished = jp.new_condition("SuccessCriteriaMet", "True", "CompletionsReached",
                                              "Reached expected number of succeeded pods", c.now)
            elif manage_called:
                flush = await self._suspend_condition(c) or flush
        flush = self._set_counts(c) or flush
        await jt.track(self.client, self.recorder, c, flush)
        return again

    async def _claim(self, job: Obj) -> list[Obj]:
        selector = (job.get("spec") or {}).get("selector")
        uid = meta(job).get("uid")
        if not selector:  # no selector: only pods that name this Job as controller
            return [p for p in pc.owned_by(self.pods, job) if controller_uid(p) == uid]
        return await pc.claim_pods(self.client, job, JOBS, self.pods,
                                lambda p: selector_matches(selector, meta(p).get("labels")))

    def _count(self, c: jt.SyncCtx) -> None:
        job = c.job
        c.active = [p for p in c.pods if is_active(p)]
        c.terminating = sum(1 for p in c.pods if is_terminating(p) and not is_finished(p))
        c.ready = sum(1 for p in c.active if is_ready(p))
        u_succ, u_fail = jt.uncounted(job)
        for p in c.pods:
            if not jp.has_finalizer(p) or meta(p)["uid"] in u_succ + u_fail:
                continue
            if jp.is_indexed(job) and jx.valid_index(p, jp.completions(job) or 0) is None:
                continue
            if phase(p) == "Succeeded":
                c.new_succeeded.append(p)
            elif jp.is_pod_failed(p):
                c.new_failed.append(p)
        st = c.status
        c.succeeded = int(st.get("succeeded") or 0) + len(c.new_succeeded) + len(u_succ)
        c.failed = int(st.get("failed") or 0) + len(c.new_failed) + len(u_fail)
        if jp.is_indexed(job):
            n = jp.completions(job) or 0
            c.succeeded_indexes = jx.parse_indexes(st.get("completedIndexes"), n) | {
                ix for p in c.pods if phase(p) == "Succeeded"
                and (ix := jx.valid_index(p, n)) is not None}
            c.succeeded = len(c.succeeded_indexes)
        key = f"{meta(job).get('namespace')}/{meta(job)['name']}"
        record = self.backoffs.get(key, jp.Backoff())
        self.backoffs[key] = record.after([jp.finish_time(p, c.now) for p in c.new_succeeded],
                                          [jp.finish_time(p, c.now) for p in c.new_failed])

    def _decide_failure(self, c: jt.SyncCtx) -> float | None:
        """Sets c.finished for a failing Job; returns seconds until the deadline, if any."""
        met = jp.find_condition(c.job, "SuccessCriteriaMet")
        target = jp.find_condition(c.job, "FailureTarget")
        if met is not None and met.get("status") == "True":
            c.finished = met
        elif target is not None and target.get("status") == "True":
            c.finished = target
        elif c.failed > jp.backoff_limit(c.job) or jp.past_backoff_limit_on_failure(c.job, c.pods):
            c.finished = jp.new_condition("FailureTarget", "True", "BackoffLimitExceeded",
                                          "Job has reached the specified backoff limit", c.now)
        else:
            deadline = jp.deadline(c.job)
            if deadline is not None and c.now >= deadline:
                c.finished = jp.new_condition(
                    "FailureTarget", "True", "DeadlineExceeded",
                    "Job was active longer than specified deadline", c.now)
            elif deadline is not None:
                return (deadline - c.now).total_seconds()
        return None

    # -- pods ------------------------------------------------------------------------------
    async def _delete_active(self, c: jt.SyncCtx) -> None:
        """A finishing Job's active pods go, keeping their finalizers: they count as failed."""
        for p in list(c.active):
            try:
                await self.client.delete(PODS, meta(p)["name"], meta(p).get("namespace"))
            except ApiError as e:
                if not e.not_found:
                    raise
            c.active.remove(p)
            c.terminating += 1
            c.ready -= is_ready(p)

    async def _delete_pods(self, key: str, c: jt.SyncCtx, pods: list[Obj]) -> None:
        """Pods removed by the controller itself (surplus, suspend) are not counted."""
        self.expectations.expect(key, deletes=[pc.pod_key(p) for p in pods])
        for p in pods:
            try:
                if jp.has_finalizer(p):
                    await jt.remove_finalizer(self.client, p)
                await self.pod_control.delete(c.job, p)
            except ApiError:
                self.expectations.forget(key)
                raise
            c.active.remove(p)
            c.terminating += 1
            c.ready -= is_ready(p)

    async def _manage(self, key: str, c: jt.SyncCtx) -> float | None:
        job, active = c.job, len(c.active)
        if jp.is_suspended(job):
            await self._delete_pods(key, c, jp.pods_for_removal(job, c.active, active))
            return None
        want = jp.want_active(job, c.succeeded, active)
        surplus = jp.pods_for_removal(job, c.active, max(0, active - want))
        if surplus:
            await self._delete_pods(key, c, surplus[:MAX_CREATE_PER_SYNC])
            return None
        diff = want - active
        if (job.get("spec") or {}).get("podReplacementPolicy") == "Failed":
            diff -= c.terminating
        if diff <= 0:
            return None
        wait = self.backoffs.get(key, jp.Backoff()).remaining(c.now, self.backoff_base,
                                                              self.backoff_max)
        if wait > 0:
            return wait
        await self._create_pods(key, c, min(diff, MAX_CREATE_PER_SYNC))
        return None

    async def _create_pods(self, key: str, c: jt.SyncCtx, n: int) -> None:
        job = c.job
        indexes: list[int | None] = [None] * n
        if jp.is_indexed(job):
            indexes = list(jx.first_pending(jp.completions(job) or 0, c.succeeded_indexes,
                                            c.active, n))
        self.expectations.expect(key, adds=len(indexes))
        ref = owner_reference(job)
        for i, ix in enumerate(indexes):
            try:
                created = await self.pod_control.create(job,
                                           jp.new_pod(job, ix, ref))
            except ApiError:
                self.expectations.creation_observed(key, len(indexes) - i)
                raise
            if created is None:
                self.expectations.creation_observed(key)
            else:
                c.active.append(created)

    # -- status pieces ---------------------------------------------------------------------
    async def _suspend_condition(self, c: jt.SyncCtx) -> bool:
        conds = list(c.status.get("conditions") or [])
        if jp.is_suspended(c.job):
            c.status["conditions"], changed = jp.ensure_condition(
                conds, "Suspended", "True", "JobSuspended", "Job suspended", c.now)
            if changed:
                await self.recorder.normal(c.job, "Suspended", "Job suspended")
            return changed
        c.status["conditions"], changed = jp.ensure_condition(
            conds, "Suspended", "False", "JobResumed", "Job resumed", c.now)
        if changed:
            await self.recorder.normal(c.job, "Resumed", "Job resumed")
            c.status["startTime"] = format_time(c.now)  # the deadline counts from the resume
        return changed

    def _set_counts(self, c: jt.SyncCtx) -> bool:
        st = c.status
        new = {"active": len(c.active), "ready": max(c.ready, 0), "terminating": c.terminating}
        changed = any(st.get(k, 0 if k == "active" else None) != v for k, v in new.items())
        st.update(new)
        return changed

    # -- finished jobs and orphans ---------------------------------------------------------
    async def _release_finished(self, job: Obj) -> None:
        for p in pc.owned_by(self.pods, job):
            if jp.has_finalizer(p):
                await jt.remove_finalizer(self.client, p)

    async def _ttl(self, job: Obj) -> float | None:
        expiry = jp.ttl_expiry(job)
        if expiry is None or meta(job).get("deletionTimestamp"):
            return None
        now = self.ctx.clock()
        if now < expiry:
            return (expiry - now).total_seconds()
        ns, name = meta(job).get("namespace"), meta(job)["name"]
        try:
            fresh = await self.client.get(JOBS, name, ns)
            expiry = jp.ttl_expiry(fresh)
            if expiry is None or now < expiry:
                return None if expiry is None else (expiry - now).total_seconds()
            await self.client.delete(JOBS, name, ns, propagation_policy="Background",
                                     preconditions={"uid": meta(fresh)["uid"]})
        except ApiError as e:
            if not (e.not_found or e.conflict):
                raise
        return None

    async def _release_orphan(self, pod_key: str) -> None:
        pod = self.pods.get(pod_key)
        if pod is None or not jp.has_finalizer(pod):
            return
        ref = controller_ref(pod)
        ns, _ = split_key(pod_key)
        if ref is not None and ref.get("kind") == KIND:
            try:
                job = await self.client.get(JOBS, ref["name"], ns)
                if meta(job).get("uid") == ref.get("uid"):
                    return  # not an orphan after all: its Job handles it
            except ApiError as e:
                if not e.not_found:
                    raise
        await jt.remove_finalizer(self.client, pod)


def _earliest(a: float | None, b: float | None) -> float | None:
    vals = [x for x in (a, b) if x is not None]
    return min(vals) if vals else None
