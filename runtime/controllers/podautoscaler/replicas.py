"""The replica calculator (upstream replica_calculator.go): from the pods a target selects
and their resource metrics, how many replicas would bring the metric to its target.

Pure functions over dicts and numbers: values are in thousandths (millicores for cpu,
milli-bytes for memory), times are epoch seconds. Pods are grouped as upstream groups
them: deleted or failed pods are ignored; pending pods, and for cpu pods not yet ready
(or ready so recently that their sample predates readiness), count as unready; pods
without a metric are missing. Missing pods count at the target (scale down) or as idle
(scale up), unready pods as idle when scaling up, and a change that the conservative
assumptions would reverse is not made. A ratio within the tolerance changes nothing.
Errors carry upstream's messages (MetricError).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from runtime.scheduler import quantity

Obj = dict[str, Any]


class MetricError(Exception):
    """The metric cannot give a replica count; the message is upstream's."""


@dataclass(frozen=True)
class PodMetric:
    value: int          # thousandths
    timestamp: float
    window: float


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _window(text: str | None) -> float:
    try:
        return float(str(text or "0s").removesuffix("s"))
    except ValueError:
        return 0.0


def pod_metrics(items: list[Obj], resource: str, container: str = "") -> dict[str, PodMetric]:
    """PodMetrics items -> pod name -> the resource's usage (summed over the pod's
    containers, or of one container); a pod lacking the figure is left out."""
    out: dict[str, PodMetric] = {}
    for item in items:
        total, complete = 0, False
        for c in item.get("containers") or []:
            if container and c.get("name") != container:
                continue
            usage = (c.get("usage") or {}).get(resource)
            if usage is None:
                complete = False
                break
            total += quantity.milli(str(usage))
            complete = True
        if complete:
            out[item["metadata"]["name"]] = PodMetric(
                total, _epoch(item.get("timestamp")) or 0.0, _window(item.get("window")))
    return out


def _condition(pod: Obj, kind: str) -> Obj | None:
    return next((c for c in (pod.get("status") or {}).get("conditions") or []
                 if c.get("type") == kind), None)


def group_pods(pods: list[Obj], metrics: dict[str, PodMetric], resource: str, now: float,
               cpu_init: float, readiness_delay: float
               ) -> tuple[int, set[str], set[str], set[str]]:
    """(ready count, unready, missing, ignored) as upstream's groupPods."""
    ready, unready, missing, ignored = 0, set(), set(), set()
    for pod in pods:
        meta, status = pod["metadata"], pod.get("status") or {}
        name = meta["name"]
        if meta.get("deletionTimestamp") or status.get("phase") == "Failed":
            ignored.add(name)
            continue
        if status.get("phase") == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu" and _cpu_unready(pod, metric, now, cpu_init, readiness_delay):
            unready.add(name)
            continue
        ready += 1
    return ready, unready, missing, ignored


def _cpu_unready(pod: Obj, metric: PodMetric, now: float, cpu_init: float,
                 readiness_delay: float) -> bool:
    cond = _condition(pod, "Ready")
    start = _epoch((pod.get("status") or {}).get("startTime"))
    if cond is None or start is None:
        return True
    changed = _epoch(cond.get("lastTransitionTime")) or 0.0
    if start + cpu_init > now:  # still initializing: its samples may be start-up noise
        return cond.get("status") == "False" or metric.timestamp < changed + metric.window
    return cond.get("status") == "False" and start + readiness_delay > changed


def pod_requests(pods: list[Obj], resource: str, container: str = "") -> dict[str, int]:
    """Pod name -> summed request (thousandths); a container without one is an error."""
    out: dict[str, int] = {}
    for pod in pods:
        total = 0
        for c in (pod.get("spec") or {}).get("containers") or []:
            if container and c.get("name") != container:
                continue
            req = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if req is None:
                raise MetricError(f"missing request for {resource} in container "
                                  f"{c.get('name')} of Pod {pod['metadata']['name']}")
            total += quantity.milli(str(req))
        out[pod["metadata"]["name"]] = total
    return out


def utilization_ratio(metrics: dict[str, PodMetric], requests: dict[str, int],
                      target: int) -> tuple[float, int, int]:
    """(usage ratio, utilization %, average raw value) over pods with a request."""
    used = [(m.value, requests[n]) for n, m in metrics.items() if n in requests]
    if not used:
        raise MetricError("no metrics returned matched known pods")
    total, req = sum(u for u, _ in used), sum(r for _, r in used)
    if req == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = int(total * 100 / req)
    return utilization / target, utilization, total // len(used)


@dataclass(frozen=True)
class Inputs:
    current: int
    pods: list[Obj]
    metrics: dict[str, PodMetric]
    now: float
    tolerance: float = 0.1
    cpu_init: float = 300.0
    readiness_delay: float = 30.0


def _grouped(i: Inputs, resource: str) -> tuple[dict[str, PodMetric], int, set[str], set[str]]:
    if not i.pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    ready, unready, missing, ignored = group_pods(i.pods, i.metrics, resource, i.now,
                                                  i.cpu_init, i.readiness_delay)
    metrics = {n: m for n, m in i.metrics.items() if n not in ignored and n not in unready}
    return metrics, ready, unready, missing


def resource_replicas(i: Inputs, resource: str, target_utilization: int,
                      container: str = "") -> tuple[int, int, int]:
    """(replicas, utilization %, average raw value) for a Utilization target."""
    metrics, ready, unready, missing = _grouped(i, resource)
    requests = pod_requests(i.pods, resource, container)
    if not metrics:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    ratio, utilization, raw = utilization_ratio(metrics, requests, target_utilization)
    values = {n: m.value for n, m in metrics.items()}
    fallback = max(100, target_utilization)
    replicas = _adjusted(i, ratio, ready, values, unready, missing,
                         lambda n: requests.get(n, 0) * fallback // 100,
                         lambda v: utilization_ratio(
                             {n: PodMetric(x, 0, 0) for n, x in v.items()}, requests,
                             target_utilization)[0])
    return replicas, utilization, raw


def average_value_replicas(i: Inputs, resource: str, target_milli: int) -> tuple[int, int]:
    """(replicas, average value) for an AverageValue target (calcPlainMetricReplicas)."""
    metrics, ready, unready, missing = _grouped(i, resource)
    if not metrics:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    values = {n: m.value for n, m in metrics.items()}
    average = sum(values.values()) // len(values)
    ratio = (sum(values.values()) / len(values)) / target_milli
    replicas = _adjusted(i, ratio, ready, values, unready, missing, lambda n: target_milli,
                         lambda v: (sum(v.values()) / len(v)) / target_milli)
    return replicas, average


def _adjusted(i: Inputs, ratio: float, ready: int, values: dict[str, int], unready: set[str],
              missing: set[str], at_target: Any, ratio_of: Any) -> int:
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if abs(1.0 - ratio) <= i.tolerance:
            return i.current
        return math.ceil(ratio * ready)
    values = dict(values)
    for name in missing:
        values[name] = at_target(name) if ratio < 1.0 else 0
    if scale_up_with_unready:
        for name in unready:
            values[name] = 0
    new_ratio = ratio_of(values)
    if abs(1.0 - new_ratio) <= i.tolerance or (ratio < 1.0 < new_ratio) or \
            (ratio > 1.0 > new_ratio):
        return i.current
    replicas = math.ceil(new_ratio * len(values))
    if (new_ratio < 1.0 and replicas > i.current) or (new_ratio > 1.0 and replicas < i.current):
        return i.current
    return replicas
