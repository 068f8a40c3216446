"""autoscaling printers: HorizontalPodAutoscalers (v2 objects, and v1 ones adapted).

Owns upstream's formatHPAMetrics ("cpu: 20%/80%", "<unknown>/500m (avg)", "+ N more...")
and the REFERENCE/MINPODS/MAXPODS/REPLICAS cells. autoscaling/v1 objects carry only
targetCPUUtilizationPercentage; they are read as the single CPU utilization metric the
internal (v2-shaped) object would hold.

Must never: mutate objects, read the clock, or do I/O.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from kapi.printers.common import AGE, NAME, Column, Ctx, Obj, Printer, age, get, integer, name

COLUMNS = (
    NAME,
    Column("Reference", "scaleTargetRef points to the target resource to scale, and is used to "
                        "the pods for which metrics should be collected, as well as to actually "
                        "change the replica count."),
    Column("Targets", "metrics contains the specifications for which to use to calculate the "
                      "desired replica count (the maximum replica count across all metrics will "
                      "be used)."),
    Column("MinPods", "minReplicas is the lower limit for the number of replicas to which the "
                      "autoscaler can scale down."),
    Column("MaxPods", "maxReplicas is the upper limit for the number of replicas to which the "
                      "autoscaler can scale up."),
    Column("Replicas", "currentReplicas is current number of replicas of pods managed by this "
                       "autoscaler, as last seen by the autoscaler."),
    AGE,
)
MAX_SHOWN = 2


def _q(v: Any) -> str:
    """Quantity.String() of a *Quantity: "<nil>" when unset."""
    return "<nil>" if v is None else str(v)


def _v1_metrics(hpa: Obj) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    target = get(hpa, "spec", "targetCPUUtilizationPercentage")
    if target is None:
        return [], []
    specs: list[dict[str, Any]] = [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}}]
    current = get(hpa, "status", "currentCPUUtilizationPercentage")
    statuses: list[dict[str, Any]] = [] if current is None else [
        {"type": "Resource", "resource": {"name": "cpu",
                                          "current": {"averageUtilization": current}}}]
    return specs, statuses


def _metrics(hpa: Obj) -> tuple[Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]]:
    if "targetCPUUtilizationPercentage" in (hpa.get("spec") or {}):
        return _v1_metrics(hpa)
    return get(hpa, "spec", "metrics", default=[]), get(hpa, "status", "currentMetrics",
                                                        default=[])


def _value_metric(spec: Mapping[str, Any], status: Mapping[str, Any] | None) -> str:
    """External and Object metrics: average value "(avg)" or plain value."""
    target = spec.get("target") or {}
    current = (status or {}).get("current") or {}
    if target.get("averageValue") is not None:
        have = "<unknown>" if status is None or current.get("averageValue") is None \
            else _q(current["averageValue"])
        return f"{have}/{_q(target['averageValue'])} (avg)"
    have = "<unknown>" if status is None else _q(current.get("value"))
    return f"{have}/{_q(target.get('value'))}"


def _resource_metric(spec: Mapping[str, Any], status: Mapping[str, Any] | None) -> str:
    """Resource and ContainerResource metrics: "cpu: 20%/80%" or "memory: 1Gi/2Gi"."""
    target = spec.get("target") or {}
    current = (status or {}).get("current") or {}
    if target.get("averageValue") is not None:
        have = "<unknown>" if status is None else _q(current.get("averageValue"))
        return f"{spec.get('name', '')}: {have}/{_q(target['averageValue'])}"
    have = "<unknown>" if current.get("averageUtilization") is None \
        else f"{current['averageUtilization']}%"
    want = "<auto>" if target.get("averageUtilization") is None \
        else f"{target['averageUtilization']}%"
    return f"{spec.get('name', '')}: {have}/{want}"


_SOURCE_FIELDS = {"External": ("external", _value_metric), "Object": ("object", _value_metric),
                  "Resource": ("resource", _resource_metric),
                  "ContainerResource": ("containerResource", _resource_metric)}


def _format_metric(i: int, spec: Mapping[str, Any], statuses: Sequence[Mapping[str, Any]]) -> str:
    mtype = spec.get("type")
    status = statuses[i] if len(statuses) > i else None
    if mtype == "Pods":
        current = "<unknown>" if status is None or status.get("pods") is None \
            else _q(get(status, "pods", "current", "averageValue"))
        return f"{current}/{_q(get(spec, 'pods', 'target', 'averageValue'))}"
    if mtype not in _SOURCE_FIELDS:
        return "<unknown type>"
    key, fmt = _SOURCE_FIELDS[mtype]
    return fmt(spec.get(key) or {}, None if status is None else status.get(key))


def format_hpa_metrics(specs: Sequence[Mapping[str, Any]],
                       statuses: Sequence[Mapping[str, Any]]) -> str:
    if not specs:
        return "<none>"
    shown = [_format_metric(i, s, statuses) for i, s in enumerate(specs)]
    if len(shown) > MAX_SHOWN:
        return ", ".join(shown[:MAX_SHOWN]) + f" + {len(shown) - MAX_SHOWN} more..."
    return ", ".join(shown)


def hpa_row(hpa: Obj, ctx: Ctx) -> list[Any]:
    ref = f"{get(hpa, 'spec', 'scaleTargetRef', 'kind', default='')}/" \
          f"{get(hpa, 'spec', 'scaleTargetRef', 'name', default='')}"
    min_pods = get(hpa, "spec", "minReplicas")
    return [name(hpa), ref, format_hpa_metrics(*_metrics(hpa)),
            "<unset>" if min_pods is None else str(min_pods), integer(hpa, "spec", "maxReplicas"),
            integer(hpa, "status", "currentReplicas"), age(hpa, ctx)]


HPA = Printer(COLUMNS, hpa_row)
