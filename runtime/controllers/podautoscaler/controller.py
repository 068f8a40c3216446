"""The horizontal pod autoscaler controller (upstream pkg/controller/podautoscaler).

Every `hpa_sync_period` seconds (15 s by default) each HorizontalPodAutoscaler is
reconciled: the target's scale subresource is read (any kind that serves one, found
through discovery), the pods its selector picks come from the shared pod informer and
their usage from metrics.k8s.io (one list per sync, by namespace and the scale's selector,
served from the API server's scrape: kapi/endpoints/metrics.py), each metric proposes a
replica count (replicas.py), the highest wins, the proposal is stabilized and limited
(normalize.py), the scale is written when it changes, and the status (currentReplicas,
desiredReplicas, currentMetrics, lastScaleTime, the three conditions) and events
(SuccessfulRescale, FailedGetResourceMetric, ...) say what happened, with upstream's
reasons and messages; events go out from a queue, so a reconcile never waits for them.
It reads autoscaling/v2, the stored form; v1 clients see the same object converted by
the API server.

An API client only: it never mutates informer objects and changes a target only through
its scale subresource (so a paused Deployment scales as upstream's does). Resource and
ContainerResource metrics are served; Pods, Object and External metrics report that no
custom or external metrics API is registered, as upstream does without one.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import logging
import time
from typing import Any

import httpx

from runtime.client.events import QueuedRecorder
from runtime.client.resources import GVR, HPAS, PODS
from runtime.client.rest import ApiError
from runtime.controllers.base import Controller, Reconciler
from runtime.controllers.common.discovery import Discovery, discover
from runtime.controllers.context import ControllerContext
from runtime.controllers.podautoscaler import normalize, replicas
from runtime.controllers.podautoscaler.status import (
    ABLE,
    ACTIVE,
    LIMITED,
    parse_selector,
    resource_status,
    set_condition,
)
from runtime.scheduler import quantity
from runtime.util.times import format_time

log = logging.getLogger(__name__)

Obj = dict[str, Any]
METRICS_PATH = "/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods"
_NO_CUSTOM = {
    "Pods": ("FailedGetPodsMetric", "unable to fetch metrics from custom metrics API: no "
             "custom metrics API (custom.metrics.k8s.io) registered"),
    "Object": ("FailedGetObjectMetric", "unable to fetch metrics from custom metrics API: "
               "no custom metrics API (custom.metrics.k8s.io) registered"),
    "External": ("FailedGetExternalMetric", "unable to fetch metrics from external metrics "
                 "API: no external metrics API (external.metrics.k8s.io) registered")}


class Failed(Exception):
    """A step failed; the HPA's status has the condition, the event was recorded."""


class HorizontalController(Reconciler):
    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx, self.client, self.opts = ctx, ctx.client, ctx.options
        # events are sent by their own task: a reconcile never waits for an event's write
        self.recorder = QueuedRecorder(ctx.recorder)
        self.hpas = ctx.informers.get(HPAS)
        self.pods = ctx.informers.get(PODS)
        self.histories: dict[str, normalize.History] = {}
        self.durations: collections.deque[float] = collections.deque(maxlen=100_000)
        self._discovery: Discovery | None = None
        self._discovered_at = 0.0
        self._discovering = asyncio.Lock()  # workers share one discovery, not one each
        # key -> the selector of the target's last sync, and this sync's metrics list for
        # it, asked for while the scale is read (the two reads overlap; used only when the
        # scale still has that selector)
        self._selectors: dict[str, str] = {}
        self._prefetched: dict[str, tuple[str, asyncio.Task[Obj]]] = {}
        self.controller = Controller("horizontal-pod-autoscaler", self.reconcile,
                                     workers=ctx.options.hpa_workers)
        self.hpas.add_handler(self._on_hpa)

    def start(self) -> None:
        self.recorder.start()
        super().start()

    async def stop(self) -> None:
        await super().stop()
        await self.recorder.stop()

    def _on_hpa(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if event == "delete" or new is None:
            return
        generation = (new.get("metadata") or {}).get("generation")
        if old is None or (old.get("metadata") or {}).get("generation") != generation:
            self.controller.enqueue(new)  # new or changed spec; status writes are ours

    async def reconcile(self, key: str) -> float | None:
        hpa = self.hpas.get(key)
        if hpa is None:
            self.histories.pop(key, None)
            self._selectors.pop(key, None)
            return None
        started = time.perf_counter()
        selector = self._selectors.get(key)
        if selector:
            self._prefetched[key] = (selector, asyncio.create_task(
                self._list_metrics(hpa["metadata"]["namespace"], selector)))
        try:
            await self.sync(key, copy.deepcopy(hpa))
        except Failed:
            pass
        except (ApiError, httpx.HTTPError) as e:  # e.g. a conflict writing status: next sync
            log.warning("horizontal-pod-autoscaler: %s: %s", key, e)
        finally:
            _discard(self._prefetched.pop(key, None))
            self.durations.append(time.perf_counter() - started)
        return self.opts.hpa_sync_period

    # -- one sync -------------------------------------------------------------------------
    async def sync(self, key: str, hpa: Obj) -> None:
        hpa.setdefault("kind", "HorizontalPodAutoscaler")
        hpa.setdefault("apiVersion", HPAS.api_version)
        original = copy.deepcopy(hpa.get("status") or {})
        status = hpa.setdefault("status", {})
        spec = hpa["spec"]
        now_dt = self.ctx.clock()
        now, stamp = now_dt.timestamp(), format_time(now_dt)
        gvr, scale = await self._scale(hpa, status, original, stamp)
        set_condition(status, ABLE, "True", "SucceededGetScale",
                      "the HPA controller was able to get the target's current scale", stamp)
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        history = self.histories.setdefault(key, normalize.History())
        if not history.recommendations:
            history.recommendations.append((current, now))
        min_r = spec.get("minReplicas")
        min_r, max_r = (1 if min_r is None else int(min_r)), int(spec["maxReplicas"])
        statuses: list[Obj] = []
        rescale, reason, desired = True, "", 0
        if current == 0 and min_r != 0:
            rescale = False
            set_condition(status, ACTIVE, "False", "ScalingDisabled",
                          "scaling is disabled since the replica count of the target is zero",
                          stamp)
        elif current > max_r:
            reason, desired = "Current number of replicas above Spec.MaxReplicas", max_r
        elif current < min_r:
            reason, desired = "Current number of replicas below Spec.MinReplicas", min_r
        else:
            try:
                proposal, metric, statuses = await self._proposal(hpa, status, scale, now,
                                                                  stamp)
            except Failed as e:
                await self._write(hpa, original, current=current)
                await self.recorder.warning(hpa, "FailedComputeMetricsReplicas", str(e))
                raise
            desired = proposal
            if desired > current:
                reason = f"{metric} above target"
            elif desired < current:
                reason = "All metrics below target"
            outcome = self._normalize(hpa, history, current, desired, min_r, max_r, now)
            set_condition(status, ABLE, *outcome.able, stamp)
            set_condition(status, LIMITED, *outcome.limited, stamp)
            desired = outcome.replicas
            rescale = desired != current
        if rescale:
            await self._rescale(hpa, gvr, scale, desired, reason, original, current, stamp)
            normalize.store_scale_event(history, spec.get("behavior"), current, desired, now,
                                        self.opts.hpa_downscale_stabilization)
            status["lastScaleTime"] = stamp
        else:
            desired = current
        status.update(currentReplicas=current, desiredReplicas=desired)
        if statuses:
            status["currentMetrics"] = statuses
        else:
            status.pop("currentMetrics", None)
        await self._write(hpa, original)

    def _normalize(self, hpa: Obj, history: normalize.History, current: int, desired: int,
                   min_r: int, max_r: int, now: float) -> normalize.Outcome:
        behavior = hpa["spec"].get("behavior")
        window = self.opts.hpa_downscale_stabilization
        if behavior is None:
            return normalize.without_behavior(history, current, desired, min_r, max_r, now,
                                              window)
        return normalize.with_behavior(history, behavior, current, desired, min_r, max_r,
                                       now, window)

    # -- the target's scale ---------------------------------------------------------------
    async def _gvr(self, ref: Obj) -> GVR | None:
        api_version, kind = ref.get("apiVersion", ""), ref.get("kind", "")
        found = self._discovery.gvr_for(api_version, kind) if self._discovery else None
        if found is not None:
            return found
        async with self._discovering:
            if time.monotonic() - self._discovered_at > 10.0:
                self._discovery = await discover(self.client)
                self._discovered_at = time.monotonic()
        return self._discovery.gvr_for(api_version, kind) if self._discovery else None

    async def _scale(self, hpa: Obj, status: Obj, original: Obj, stamp: str
                     ) -> tuple[GVR, Obj]:
        ref, ns = hpa["spec"]["scaleTargetRef"], hpa["metadata"]["namespace"]
        try:
            gvr = await self._gvr(ref)
            if gvr is None:
                group = ref.get("apiVersion", "").rpartition("/")[0]
                raise LookupError(f'no matches for kind "{ref.get("kind")}" in group '
                                  f'"{group}"')
            return gvr, await self.client.get(gvr, ref["name"], ns, subresource="scale")
        except (ApiError, LookupError) as e:
            message = e.message if isinstance(e, ApiError) else str(e)
            await self.recorder.warning(hpa, "FailedGetScale", message)
            set_condition(status, ABLE, "False", "FailedGetScale", "the HPA controller was "
                          f"unable to get the target's current scale: {message}", stamp)
            await self._write(hpa, original)
            raise Failed(message) from None

    async def _rescale(self, hpa: Obj, gvr: GVR, scale: Obj, desired: int, reason: str,
                       original: Obj, current: int, stamp: str) -> None:
        new = copy.deepcopy(scale)
        new.setdefault("spec", {})["replicas"] = desired
        status = hpa["status"]
        try:
            await self.client.update(gvr, new, subresource="scale")
        except ApiError as e:
            await self.recorder.warning(hpa, "FailedRescale", f"New size: {desired}; reason: "
                                        f"{reason}; error: {e.message}")
            set_condition(status, ABLE, "False", "FailedUpdateScale", "the HPA controller was "
                          f"unable to update the target scale: {e.message}", stamp)
            await self._write(hpa, original, current=current)
            raise Failed(e.message) from None
        set_condition(status, ABLE, "True", "SucceededRescale", "the HPA controller was able "
                      f"to update the target scale to {desired}", stamp)
        await self.recorder.normal(hpa, "SuccessfulRescale",
                                   f"New size: {desired}; reason: {reason}")

    async def _write(self, hpa: Obj, original: Obj, current: int | None = None) -> None:
        status = hpa["status"]
        if current is not None:
            status["currentReplicas"] = current
        status["observedGeneration"] = hpa["metadata"].get("generation")
        if status != original:
            await self.client.update_status(HPAS, hpa)

    # -- metrics --------------------------------------------------------------------------
    async def _proposal(self, hpa: Obj, status: Obj, scale: Obj, now: float, stamp: str
                        ) -> tuple[int, str, list[Obj]]:
        selector = (scale.get("status") or {}).get("selector") or ""
        if not selector:
            await self.recorder.warning(hpa, "SelectorRequired", "selector is required")
            set_condition(status, ACTIVE, "False", "InvalidSelector",
                          "the HPA target's scale is missing a selector", stamp)
            raise Failed("selector is required")
        try:
            match = parse_selector(selector)
        except ValueError as e:
            msg = f"couldn't convert selector into a corresponding internal selector object: {e}"
            await self.recorder.warning(hpa, "InvalidSelector", msg)
            set_condition(status, ACTIVE, "False", "InvalidSelector", msg, stamp)
            raise Failed(msg) from None
        ns = hpa["metadata"]["namespace"]
        key = f"{ns}/{hpa['metadata']['name']}"
        self._selectors[key] = selector
        pods = [p for p in self.pods.list(ns)
                if match((p.get("metadata") or {}).get("labels") or {})]
        inputs = _Inputs(self, ns, selector, pods, int((scale.get("spec") or {}).get(
            "replicas") or 0), now)
        inputs.prefetched = self._prefetched.get(key)
        best, best_name, statuses, errors = 0, "", [], []
        for metric in hpa["spec"].get("metrics") or []:
            try:
                proposal, name, entry = await inputs.compute(metric)
            except _MetricFailed as e:
                errors.append(e)
                continue
            statuses.append(entry)
            if best == 0 or proposal > best:
                best, best_name = proposal, name
        total = len(hpa["spec"].get("metrics") or [])
        if errors and len(errors) >= total:
            first = errors[0]
            for err in errors:
                await self.recorder.warning(hpa, err.reason, err.message)
            set_condition(status, ACTIVE, "False", first.reason, "the HPA was unable to "
                          f"compute the replica count: {first.message}", stamp)
            raise Failed(f"invalid metrics ({len(errors)} invalid out of {total}), first "
                         f"error is: {first.message}")
        for err in errors:
            await self.recorder.warning(hpa, err.reason, err.message)
        set_condition(status, ACTIVE, "True", "ValidMetricFound", "the HPA was able to "
                      f"successfully calculate a replica count from {best_name}", stamp)
        return best, best_name, statuses


    async def _list_metrics(self, ns: str, selector: str) -> Obj:
        """The PodMetrics of the target's pods: one list by namespace and selector."""
        return await self.client.request("GET", METRICS_PATH.format(ns=ns),
                                         params={"labelSelector": selector})


def _discard(prefetched: tuple[str, asyncio.Task[Obj]] | None) -> None:
    """Cancel a prefetch nobody awaited, or collect its error (never left unretrieved)."""
    if prefetched is None:
        return
    task = prefetched[1]
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


class _MetricFailed(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


class _Inputs:
    """One sync's view of the target's pods and their metrics (fetched once)."""

    def __init__(self, c: HorizontalController, ns: str, selector: str, pods: list[Obj],
                 current: int, now: float) -> None:
        self.c, self.ns, self.selector, self.pods = c, ns, selector, pods
        self.current, self.now = current, now
        self._items: list[Obj] | None = None
        self.prefetched: tuple[str, asyncio.Task[Obj]] | None = None

    async def _metrics(self, resource: str) -> list[Obj]:
        if self._items is None:
            try:
                if self.prefetched is not None and self.prefetched[0] == self.selector:
                    body = await self.prefetched[1]
                else:
                    body = await self.c._list_metrics(self.ns, self.selector)
            except (ApiError, httpx.HTTPError) as e:
                why = e.message if isinstance(e, ApiError) else repr(e)
                raise replicas.MetricError(f"unable to get metrics for resource {resource}: "
                                           "unable to fetch metrics from resource metrics "
                                           f"API: {why}") from None
            self._items = body.get("items") or []
        if not self._items:
            raise replicas.MetricError(f"unable to get metrics for resource {resource}: no "
                                       "metrics returned from resource metrics API")
        return self._items

    async def compute(self, metric: Obj) -> tuple[int, str, Obj]:
        kind = metric.get("type", "")
        if kind in _NO_CUSTOM:
            reason, message = _NO_CUSTOM[kind]
            raise _MetricFailed(reason, message)
        if kind not in ("Resource", "ContainerResource"):
            raise _MetricFailed("InvalidMetricSourceType",
                                f'unknown metric source type "{kind}"')
        container = kind == "ContainerResource"
        src = metric["containerResource" if container else "resource"]
        name, target = src["name"], src.get("target") or {}
        reason = "FailedGetContainerResourceMetric" if container else "FailedGetResourceMetric"
        try:
            return await self._resource(metric, name, target, src.get("container", ""))
        except replicas.MetricError as e:
            raise _MetricFailed(reason, f"failed to get {name} utilization: {e}") from None

    async def _resource(self, metric: Obj, name: str, target: Obj, container: str
                        ) -> tuple[int, str, Obj]:
        opts = self.c.opts
        items = await self._metrics(name)
        inputs = replicas.Inputs(self.current, self.pods,
                                 replicas.pod_metrics(items, name, container), self.now,
                                 opts.hpa_tolerance, opts.hpa_cpu_initialization_period,
                                 opts.hpa_initial_readiness_delay)
        label = f"{name} container resource" if container else f"{name} resource"
        if target.get("averageValue") is not None:
            count, average = replicas.average_value_replicas(
                inputs, name, quantity.milli(str(target["averageValue"])))
            return count, label, resource_status(metric, average, None)
        if target.get("averageUtilization") is None:
            raise replicas.MetricError("invalid resource metric source: neither a "
                                       "utilization target nor a value target was set")
        count, utilization, raw = replicas.resource_replicas(
            inputs, name, int(target["averageUtilization"]), container)
        return (count, f"{label} utilization (percentage of request)",
                resource_status(metric, raw, utilization))
