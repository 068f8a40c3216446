"""Conversion between the served group/versions of a kind and its one stored form.

Owns exactly the version pairs that kapi/meta/resources.py declares with
storage_group/storage_version, and nothing else:

* events.k8s.io/v1 Event  <->  v1 (core) Event (the stored form);
* autoscaling/v1 HorizontalPodAutoscaler  <->  autoscaling/v2 (the stored form).

Every function here is pure: dicts in, new dicts out. Inputs are never mutated and
outputs share no nested objects with their inputs (callers may mutate the result).
This module must never do I/O (no storage, network, files, clocks or logging); it
may import only kapi.meta.resources.

Fidelity to upstream (Kubernetes 1.33):

Events follow pkg/apis/events/v1/conversion.go and the generated conversions (both
versions convert through the internal core.Event):
  regarding <-> involvedObject, note <-> message, reportingController <->
  reportingComponent, deprecatedSource <-> source, deprecatedFirstTimestamp <->
  firstTimestamp, deprecatedLastTimestamp <-> lastTimestamp, deprecatedCount <-> count;
  eventTime, series, reportingInstance, action, reason, related, type are copied.
  Upstream copies series as-is and never derives count/lastTimestamp from
  series.count/series.lastObservedTime (or back): that pairing is a convention of
  the event recorders and printers, not of conversion, so it is not done here.

HorizontalPodAutoscaler follows pkg/apis/autoscaling/v1/conversion.go and
pkg/apis/autoscaling/annotations.go + helpers.go (DropRoundTripHorizontalPodAutoscalerAnnotations):
  spec.targetCPUUtilizationPercentage <-> the first metric of type Resource, name cpu
  with target.averageUtilization (target.type Utilization);
  status.currentCPUUtilizationPercentage <- the last Resource cpu current metric with
  current.averageUtilization; <- a single cpu current metric on the way back.
  What v1 cannot express travels in annotations, as upstream writes them:
    autoscaling.alpha.kubernetes.io/metrics          every spec metric except the CPU
                                                     utilization ones, as JSON of
                                                     autoscaling/v1 MetricSpec (the
                                                     v2beta1-shaped "alpha" types);
    autoscaling.alpha.kubernetes.io/current-metrics  all status.currentMetrics, as JSON
                                                     of autoscaling/v1 MetricStatus;
    autoscaling.alpha.kubernetes.io/behavior         spec.behavior, as JSON of the Go
                                                     *internal* type (no json tags, so Go
                                                     field names: ScaleUp, Policies, ...);
    autoscaling.alpha.kubernetes.io/conditions       status.conditions, as JSON of
                                                     autoscaling/v1 HorizontalPodAutoscalerCondition.
  The annotation values are byte-for-byte what Go's encoding/json writes (struct
  field order, zero-valued required fields such as "targetValue":"0", sorted map keys,
  HTML escaping), so clients comparing them see upstream's strings. Quantities are
  copied as given, not canonicalised ("0.5" stays "0.5"; Go would write "500m").
  Converting to v1 first drops any round-trip annotations already present (and the
  1.33 scale-up/scale-down-tolerance ones used by v2beta2); converting from v1 reads
  them back and then drops them, so the stored v2 object never carries them. A
  malformed annotation is ignored, as upstream does.
  Round trips: v2 -> v1 -> v2 keeps every metric, but the CPU utilization metric
  comes back after the others (upstream appends it); zero-valued fields Go always
  writes come back set (for example an Object metric status gains current.value "0").

Defaulting (kapi/defaulting owns it; documented here because it interacts):
  * The 80% CPU target: when a v1 HPA has no targetCPUUtilizationPercentage *and*
    the metrics annotation yields no metric, upstream adds a Resource cpu
    Utilization 80 metric. Upstream does this in the v1 -> internal *conversion*
    (Convert_v1_HorizontalPodAutoscaler_To_autoscaling_HorizontalPodAutoscaler;
    autoscaling.DefaultCPUUtilization), not in v1 defaulting, because only the
    conversion sees the annotation's metrics; so to_storage() does it too. The
    same metric is also a v2 default (SetDefaults_HorizontalPodAutoscaler in
    pkg/apis/autoscaling/v2/defaults.go when spec.metrics is empty), which belongs
    to defaulting of the stored form.
  * minReplicas = 1 (v1 and v2 defaulting) and the v2 behavior defaults
    (GenerateHPAScaleUpRules/GenerateHPAScaleDownRules) are defaulting, not done here.

Shape: conversions keep presence. A field absent (or null) in the input stays absent
in the output; Go's typed round trip would instead write zero values for some
(e.g. "eventTime": null, "source": {}, "status": {"currentReplicas": 0, ...}).
Materialising those belongs to the output serializer, not to conversion. Fields the
source version does not define are dropped, as a typed decode would drop them.
Lists (EventList, HorizontalPodAutoscalerList) are converted item by item by the caller.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

__all__ = [
    "ConversionError",
    "to_storage",
    "from_storage",
    "storage_api_version",
    "METRIC_SPECS_ANNOTATION",
    "METRIC_STATUSES_ANNOTATION",
    "CONDITIONS_ANNOTATION",
    "BEHAVIOR_SPECS_ANNOTATION",
    "TOLERANCE_SCALE_DOWN_ANNOTATION",
    "TOLERANCE_SCALE_UP_ANNOTATION",
    "DEFAULT_CPU_UTILIZATION",
]

JSONDict = dict[str, Any]
Converter = Callable[[JSONDict], JSONDict]

# pkg/apis/autoscaling/annotations.go (1.33).
METRIC_SPECS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
METRIC_STATUSES_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_SPECS_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
TOLERANCE_SCALE_DOWN_ANNOTATION = "autoscaling.alpha.kubernetes.io/scale-down-tolerance"
TOLERANCE_SCALE_UP_ANNOTATION = "autoscaling.alpha.kubernetes.io/scale-up-tolerance"
DEFAULT_CPU_UTILIZATION = 80

# DropRoundTripHorizontalPodAutoscalerAnnotations removes all of these.
_ROUND_TRIP_ANNOTATIONS = (
    METRIC_SPECS_ANNOTATION,
    BEHAVIOR_SPECS_ANNOTATION,
    TOLERANCE_SCALE_DOWN_ANNOTATION,
    TOLERANCE_SCALE_UP_ANNOTATION,
    METRIC_STATUSES_ANNOTATION,
    CONDITIONS_ANNOTATION,
)

_CORE_V1 = "v1"
_EVENTS_V1 = "events.k8s.io/v1"
_AUTOSCALING_V1 = "autoscaling/v1"
_AUTOSCALING_V2 = "autoscaling/v2"


class ConversionError(ValueError):
    """The object cannot be converted: a field conversion must descend into has the
    wrong JSON type (upstream fails such a request while decoding it: 400 BadRequest)."""


# --------------------------------------------------------------------------- public


def storage_api_version(api_version: str, kind: str) -> str:
    """The apiVersion objects of this served apiVersion/kind are stored in."""
    return _STORAGE.get((api_version, kind), api_version)


def to_storage(api_version: str, kind: str, obj: JSONDict) -> JSONDict:
    """Convert `obj`, as a client sent it in `api_version`, to its stored form.

    The result has apiVersion/kind set to the stored group/version. Returns `obj`
    itself (no copy) when `api_version` is the stored version or the kind has no
    conversion. Never mutates `obj`.
    """
    stored = _STORAGE.get((api_version, kind))
    if stored is None or stored == api_version:
        return obj
    return _converter(api_version, stored, kind)(obj)


def from_storage(api_version: str, kind: str, obj: JSONDict) -> JSONDict:
    """Convert the stored object `obj` to the requested `api_version`.

    Returns `obj` itself (no copy) when `api_version` is the stored version or the
    kind has no conversion. Never mutates `obj`.
    """
    stored = _STORAGE.get((api_version, kind))
    if stored is None or stored == api_version:
        return obj
    return _converter(stored, api_version, kind)(obj)


def _converter(src: str, dst: str, kind: str) -> Converter:
    try:
        return _CONVERTERS[(src, dst, kind)]
    except KeyError:
        raise LookupError(f"no conversion for {kind} from {src} to {dst}") from None


# ------------------------------------------------------------------------- helpers


def _clone(value: Any) -> Any:
    return copy.deepcopy(value)


def _obj(parent: JSONDict, key: str, where: str) -> JSONDict | None:
    """parent[key] as an object, None when absent or null."""
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConversionError(f"{where}{key}: expected an object, got {type(value).__name__}")
    return value


def _arr(parent: JSONDict, key: str, where: str) -> list[Any]:
    """parent[key] as a list, [] when absent or null."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConversionError(f"{where}{key}: expected an array, got {type(value).__name__}")
    return value


def _sub(parent: Any, key: str) -> JSONDict:
    """Lenient look-up inside metric sources: a missing or non-object value reads as {}."""
    if isinstance(parent, dict):
        value = parent.get(key)
        if isinstance(value, dict):
            return value
    return {}


def _set(out: JSONDict, key: str, value: Any) -> None:
    """out[key] = a copy of value, unless value is absent (None)."""
    if value is not None:
        out[key] = _clone(value)


def _metadata(obj: JSONDict) -> JSONDict | None:
    return _obj(obj, "metadata", "")


def _go_json(value: Any) -> str:
    """What Go's json.Marshal writes for `value`: compact, UTF-8, HTML-escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _str(value: Any) -> str:
    """A Go string field: "" when absent."""
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _quantity(value: Any) -> Any:
    """A Quantity as JSON: always a string in Go's output; the text is kept as given."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return value


def _quantity_or_zero(value: Any) -> Any:
    """A non-pointer resource.Quantity: the zero quantity marshals as "0"."""
    return "0" if value is None else _quantity(value)


def _label_selector(value: Any) -> Any:
    """metav1.LabelSelector as Go marshals it (field order, sorted map keys)."""
    if not isinstance(value, dict):
        return _clone(value)
    out: JSONDict = {}
    labels = value.get("matchLabels")
    if isinstance(labels, dict) and labels:
        out["matchLabels"] = {k: labels[k] for k in sorted(labels)}
    expressions = value.get("matchExpressions")
    if isinstance(expressions, list) and expressions:
        reqs = []
        for e in expressions:
            e = e if isinstance(e, dict) else {}
            req: JSONDict = {"key": _str(e.get("key")), "operator": _str(e.get("operator"))}
            if e.get("values"):
                req["values"] = _clone(e["values"])
            reqs.append(req)
        out["matchExpressions"] = reqs
    return out


# -------------------------------------------------------------------------- events

# (events.k8s.io/v1 field, core/v1 field), in events.k8s.io/v1 struct order.
_EVENT_FIELDS: tuple[tuple[str, str], ...] = (
    ("eventTime", "eventTime"),
    ("series", "series"),
    ("reportingController", "reportingComponent"),
    ("reportingInstance", "reportingInstance"),
    ("action", "action"),
    ("reason", "reason"),
    ("regarding", "involvedObject"),
    ("related", "related"),
    ("note", "message"),
    ("type", "type"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
)
# core/v1 Event struct order, for readable output.
_CORE_EVENT_ORDER = (
    "involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp",
    "count", "type", "eventTime", "series", "action", "related", "reportingComponent",
    "reportingInstance",
)


def _event_to_core(obj: JSONDict) -> JSONDict:
    """events.k8s.io/v1 Event -> v1 Event (Convert_v1_Event_To_core_Event + core/v1)."""
    mapped = {core: obj[ev] for ev, core in _EVENT_FIELDS if obj.get(ev) is not None}
    out: JSONDict = {"kind": "Event", "apiVersion": _CORE_V1}
    _set(out, "metadata", obj.get("metadata"))
    for key in _CORE_EVENT_ORDER:
        _set(out, key, mapped.get(key))
    return out


def _event_from_core(obj: JSONDict) -> JSONDict:
    """v1 Event -> events.k8s.io/v1 Event (core/v1 + Convert_core_Event_To_v1_Event)."""
    out: JSONDict = {"kind": "Event", "apiVersion": _EVENTS_V1}
    _set(out, "metadata", obj.get("metadata"))
    for ev, core in _EVENT_FIELDS:
        _set(out, ev, obj.get(core))
    return out


# ------------------------------------------------------- HPA: metric types (annotations)


def _ref_v1(ref: JSONDict) -> JSONDict:
    """CrossVersionObjectReference as Go marshals it (kind, name, apiVersion omitempty)."""
    out: JSONDict = {"kind": _str(ref.get("kind")), "name": _str(ref.get("name"))}
    if ref.get("apiVersion"):
        out["apiVersion"] = _str(ref["apiVersion"])
    return out


def _metric_to_v1(m: JSONDict, side: str) -> JSONDict:
    """A v2 MetricSpec (side "target") or MetricStatus (side "current") in v1's
    annotation form, whose field names carry the side (targetValue / currentValue,
    targetAverageValue / currentAverageValue, ...). Where v1's source field is a pointer
    and its status field is not (the resource average value, the external value), an
    unset target is omitted and an unset current is the zero quantity "0"."""
    out: JSONDict = {"type": _str(m.get("type"))}
    if isinstance(m.get("object"), dict):
        src = m["object"]
        value, ident = _sub(src, side), _sub(src, "metric")
        v: JSONDict = {
            "target": _ref_v1(_sub(src, "describedObject")),
            "metricName": _str(ident.get("name")),
            f"{side}Value": _quantity_or_zero(value.get("value")),
        }
        if ident.get("selector") is not None:
            v["selector"] = _label_selector(ident["selector"])
        if value.get("averageValue") is not None:
            v["averageValue"] = _quantity(value["averageValue"])
        out["object"] = v
    if isinstance(m.get("pods"), dict):
        value, ident = _sub(m["pods"], side), _sub(m["pods"], "metric")
        v = {
            "metricName": _str(ident.get("name")),
            f"{side}AverageValue": _quantity_or_zero(value.get("averageValue")),
        }
        if ident.get("selector") is not None:
            v["selector"] = _label_selector(ident["selector"])
        out["pods"] = v
    for key in ("resource", "containerResource"):
        if isinstance(m.get(key), dict):
            src, value = m[key], _sub(m[key], side)
            v = {"name": _str(src.get("name"))}
            if value.get("averageUtilization") is not None:
                v[f"{side}AverageUtilization"] = value["averageUtilization"]
            if side == "current" or value.get("averageValue") is not None:
                v[f"{side}AverageValue"] = _quantity_or_zero(value.get("averageValue"))
            if key == "containerResource":
                v["container"] = _str(src.get("container"))
            out[key] = v
    if isinstance(m.get("external"), dict):
        value, ident = _sub(m["external"], side), _sub(m["external"], "metric")
        v = {"metricName": _str(ident.get("name"))}
        if ident.get("selector") is not None:
            v["metricSelector"] = _label_selector(ident["selector"])
        if side == "current" or value.get("value") is not None:
            v[f"{side}Value"] = _quantity_or_zero(value.get("value"))
        if value.get("averageValue") is not None:
            v[f"{side}AverageValue"] = _quantity(value["averageValue"])
        out["external"] = v
    return _ordered_metric(out)


def _metric_spec_to_v1(m: JSONDict) -> JSONDict:
    """autoscaling/v2 MetricSpec -> autoscaling/v1 MetricSpec (annotation form)."""
    return _metric_to_v1(m, "target")


def _ordered_metric(m: JSONDict) -> JSONDict:
    """MetricSpec/MetricStatus field order: type, object, pods, resource, containerResource, external."""
    order = ("type", "object", "pods", "resource", "containerResource", "external")
    return {k: m[k] for k in order if k in m}


def _identifier(name: Any, selector: Any) -> JSONDict:
    out: JSONDict = {"name": _str(name)}
    _set(out, "selector", selector)
    return out


def _metric_spec_from_v1(m: JSONDict) -> JSONDict:
    """autoscaling/v1 MetricSpec (annotation form) -> autoscaling/v2 MetricSpec."""
    out: JSONDict = {"type": _str(m.get("type"))}
    if isinstance(m.get("object"), dict):
        src = m["object"]
        target: JSONDict = {
            "type": "Value" if src.get("averageValue") is None else "AverageValue",
            "value": _quantity_or_zero(src.get("targetValue")),  # Value: &in.TargetValue
        }
        _set(target, "averageValue", src.get("averageValue"))
        out["object"] = {
            "describedObject": _ref_v1(_sub(src, "target")),
            "target": target,
            "metric": _identifier(src.get("metricName"), src.get("selector")),
        }
    if isinstance(m.get("pods"), dict):
        src = m["pods"]
        out["pods"] = {
            "metric": _identifier(src.get("metricName"), src.get("selector")),
            "target": {"type": "AverageValue",
                       "averageValue": _quantity_or_zero(src.get("targetAverageValue"))},
        }
    for key in ("resource", "containerResource"):
        if isinstance(m.get(key), dict):
            src = m[key]
            utilization = src.get("targetAverageUtilization")
            target = {"type": "AverageValue" if utilization is None else "Utilization"}
            _set(target, "averageValue", src.get("targetAverageValue"))
            _set(target, "averageUtilization", utilization)
            v: JSONDict = {"name": _str(src.get("name")), "target": target}
            if key == "containerResource":
                v["container"] = _str(src.get("container"))
            out[key] = v
    if isinstance(m.get("external"), dict):
        src = m["external"]
        target = {"type": "AverageValue" if src.get("targetValue") is None else "Value"}
        _set(target, "value", src.get("targetValue"))
        _set(target, "averageValue", src.get("targetAverageValue"))
        out["external"] = {
            "metric": _identifier(src.get("metricName"), src.get("metricSelector")),
            "target": target,
        }
    return out


def _metric_status_to_v1(m: JSONDict) -> JSONDict:
    """autoscaling/v2 MetricStatus -> autoscaling/v1 MetricStatus (annotation form)."""
    return _metric_to_v1(m, "current")


def _metric_status_from_v1(m: JSONDict) -> JSONDict:
    """autoscaling/v1 MetricStatus (annotation form) -> autoscaling/v2 MetricStatus."""
    out: JSONDict = {"type": _str(m.get("type"))}
    if isinstance(m.get("object"), dict):
        src = m["object"]
        current: JSONDict = {"value": _quantity_or_zero(src.get("currentValue"))}
        _set(current, "averageValue", src.get("averageValue"))
        out["object"] = {
            "metric": _identifier(src.get("metricName"), src.get("selector")),
            "current": current,
            "describedObject": _ref_v1(_sub(src, "target")),
        }
    if isinstance(m.get("pods"), dict):
        src = m["pods"]
        out["pods"] = {
            "metric": _identifier(src.get("metricName"), src.get("selector")),
            "current": {"averageValue": _quantity_or_zero(src.get("currentAverageValue"))},
        }
    for key in ("resource", "containerResource"):
        if isinstance(m.get(key), dict):
            src = m[key]
            current = {"averageValue": _quantity_or_zero(src.get("currentAverageValue"))}
            _set(current, "averageUtilization", src.get("currentAverageUtilization"))
            v: JSONDict = {"name": _str(src.get("name")), "current": current}
            if key == "containerResource":
                v["container"] = _str(src.get("container"))
            out[key] = v
    if isinstance(m.get("external"), dict):
        src = m["external"]
        current = {"value": _quantity_or_zero(src.get("currentValue"))}
        _set(current, "averageValue", src.get("currentAverageValue"))
        out["external"] = {
            "metric": _identifier(src.get("metricName"), src.get("metricSelector")),
            "current": current,
        }
    return out


def _condition_to_v1(c: JSONDict) -> JSONDict:
    """HorizontalPodAutoscalerCondition as Go marshals the v1 type (1.33 fields)."""
    out: JSONDict = {
        "type": _str(c.get("type")),
        "status": _str(c.get("status")),
        # metav1.Time is a struct: omitempty never drops it, the zero time is null.
        "lastTransitionTime": _clone(c.get("lastTransitionTime")),
    }
    if c.get("reason"):
        out["reason"] = _str(c["reason"])
    if c.get("message"):
        out["message"] = _str(c["message"])
    return out


def _condition_from_v1(c: JSONDict) -> JSONDict:
    out: JSONDict = {"type": _str(c.get("type")), "status": _str(c.get("status"))}
    _set(out, "lastTransitionTime", c.get("lastTransitionTime"))
    if c.get("reason"):
        out["reason"] = _str(c["reason"])
    if c.get("message"):
        out["message"] = _str(c["message"])
    return out


def _rules_to_internal(rules: Any) -> JSONDict | None:
    """autoscaling/v2 HPAScalingRules -> JSON of the internal Go type (no json tags)."""
    if not isinstance(rules, dict):
        return None
    policies = rules.get("policies")
    internal_policies: list[JSONDict] | None = None
    if isinstance(policies, list):
        internal_policies = []
        for p in policies:
            p = p if isinstance(p, dict) else {}
            internal_policies.append({
                "Type": _str(p.get("type")),
                "Value": p.get("value") or 0,
                "PeriodSeconds": p.get("periodSeconds") or 0,
            })
    # Field order of the internal HPAScalingRules; Tolerance is new in 1.33.
    return {
        "StabilizationWindowSeconds": rules.get("stabilizationWindowSeconds"),
        "SelectPolicy": rules.get("selectPolicy"),
        "Policies": internal_policies,
        "Tolerance": _quantity(rules.get("tolerance")),
    }


def _behavior_to_internal(behavior: JSONDict) -> JSONDict:
    return {
        "ScaleUp": _rules_to_internal(behavior.get("scaleUp")),
        "ScaleDown": _rules_to_internal(behavior.get("scaleDown")),
    }


class _BadAnnotation(Exception):
    """An annotation Go's json.Unmarshal would reject; the caller ignores it."""


def _go_field(obj: JSONDict, name: str) -> Any:
    """encoding/json key matching: the exact name, else a case-insensitive match."""
    if name in obj:
        return obj[name]
    lower = name.lower()
    for key, value in obj.items():
        if key.lower() == lower:
            return value
    return None


def _rules_from_internal(raw: Any) -> JSONDict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _BadAnnotation
    out: JSONDict = {}
    _set(out, "stabilizationWindowSeconds", _go_field(raw, "StabilizationWindowSeconds"))
    _set(out, "selectPolicy", _go_field(raw, "SelectPolicy"))
    policies = _go_field(raw, "Policies")
    if policies is not None:
        if not isinstance(policies, list):
            raise _BadAnnotation
        out["policies"] = []
        for p in policies:
            if not isinstance(p, dict):
                raise _BadAnnotation
            out["policies"].append({
                "type": _str(_go_field(p, "Type")),
                "value": _go_field(p, "Value") or 0,
                "periodSeconds": _go_field(p, "PeriodSeconds") or 0,
            })
    _set(out, "tolerance", _go_field(raw, "Tolerance"))
    return out


def _behavior_from_internal(text: str) -> JSONDict | None:
    raw = json.loads(text)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _BadAnnotation
    out: JSONDict = {}
    _set(out, "scaleUp", _rules_from_internal(_go_field(raw, "ScaleUp")))
    _set(out, "scaleDown", _rules_from_internal(_go_field(raw, "ScaleDown")))
    # behavior != (HorizontalPodAutoscalerBehavior{}): both rules nil means no behavior.
    return out or None


def _annotation_list(
    annotations: JSONDict, key: str, convert: Callable[[JSONDict], JSONDict]
) -> list[JSONDict] | None:
    """Decode a list-valued round-trip annotation; None when absent or malformed."""
    text = annotations.get(key)
    if not isinstance(text, str):
        return None
    try:
        raw = json.loads(text)
    except ValueError:
        return None
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        return None
    return [convert(item) for item in raw]


# ---------------------------------------------------------------------- HPA: objects


def _is_cpu_utilization(metric: Any) -> bool:
    if not isinstance(metric, dict) or metric.get("type") != "Resource":
        return False
    resource = metric.get("resource")
    return (
        isinstance(resource, dict)
        and resource.get("name") == "cpu"
        and _sub(resource, "target").get("averageUtilization") is not None
    )


def _cpu_utilization_metric(percent: Any) -> JSONDict:
    return {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": percent}},
    }


def _hpa_to_v1(obj: JSONDict) -> JSONDict:
    """autoscaling/v2 -> autoscaling/v1 (Convert_autoscaling_HorizontalPodAutoscaler_To_v1_...)."""
    meta = _metadata(obj)
    spec = _obj(obj, "spec", "")
    status = _obj(obj, "status", "")
    metrics = _arr(spec, "metrics", "spec.") if spec is not None else []
    current = _arr(status, "currentMetrics", "status.") if status is not None else []
    conditions = _arr(status, "conditions", "status.") if status is not None else []
    behavior = _obj(spec, "behavior", "spec.") if spec is not None else None
    for where, items in (("spec.metrics", metrics), ("status.currentMetrics", current),
                         ("status.conditions", conditions)):
        if not all(isinstance(item, dict) for item in items):
            raise ConversionError(f"{where}: expected an array of objects")

    out: JSONDict = {"kind": "HorizontalPodAutoscaler", "apiVersion": _AUTOSCALING_V1}
    _set(out, "metadata", meta)

    if spec is not None:
        v1spec: JSONDict = {}
        _set(v1spec, "scaleTargetRef", spec.get("scaleTargetRef"))
        _set(v1spec, "minReplicas", spec.get("minReplicas"))
        _set(v1spec, "maxReplicas", spec.get("maxReplicas"))
        for metric in metrics:  # the first CPU utilization metric
            if _is_cpu_utilization(metric):
                v1spec["targetCPUUtilizationPercentage"] = metric["resource"]["target"]["averageUtilization"]
                break
        out["spec"] = v1spec

    if status is not None:
        v1status: JSONDict = {}
        _set(v1status, "observedGeneration", status.get("observedGeneration"))
        _set(v1status, "lastScaleTime", status.get("lastScaleTime"))
        _set(v1status, "currentReplicas", status.get("currentReplicas"))
        _set(v1status, "desiredReplicas", status.get("desiredReplicas"))
        for metric in current:  # no break upstream: the last one wins
            if metric.get("type") == "Resource" and _sub(metric, "resource").get("name") == "cpu":
                utilization = _sub(_sub(metric, "resource"), "current").get("averageUtilization")
                if utilization is not None:
                    v1status["currentCPUUtilizationPercentage"] = utilization
        out["status"] = v1status

    # Round-trip annotations: clear any already there, then write what v1 cannot hold.
    old = _obj(meta, "annotations", "metadata.") if meta is not None else None
    annotations = {k: v for k, v in (old or {}).items() if k not in _ROUND_TRIP_ANNOTATIONS}
    other = [_metric_spec_to_v1(m) for m in metrics if not _is_cpu_utilization(m)]
    if other:
        annotations[METRIC_SPECS_ANNOTATION] = _go_json(other)
    if current:
        annotations[METRIC_STATUSES_ANNOTATION] = _go_json([_metric_status_to_v1(m) for m in current])
    if behavior is not None:
        annotations[BEHAVIOR_SPECS_ANNOTATION] = _go_json(_behavior_to_internal(behavior))
    if conditions:
        annotations[CONDITIONS_ANNOTATION] = _go_json([_condition_to_v1(c) for c in conditions])
    _put_annotations(out, old, annotations)
    return out


def _hpa_from_v1(obj: JSONDict) -> JSONDict:
    """autoscaling/v1 -> autoscaling/v2 (Convert_v1_HorizontalPodAutoscaler_To_autoscaling_...)."""
    meta = _metadata(obj)
    spec = _obj(obj, "spec", "") or {}
    status = _obj(obj, "status", "")
    old = _obj(meta, "annotations", "metadata.") if meta is not None else None
    annotations = old or {}

    out: JSONDict = {"kind": "HorizontalPodAutoscaler", "apiVersion": _AUTOSCALING_V2}
    _set(out, "metadata", meta)

    v2spec: JSONDict = {}
    _set(v2spec, "scaleTargetRef", spec.get("scaleTargetRef"))
    _set(v2spec, "minReplicas", spec.get("minReplicas"))
    _set(v2spec, "maxReplicas", spec.get("maxReplicas"))
    metrics: list[JSONDict] = []
    if spec.get("targetCPUUtilizationPercentage") is not None:
        metrics = [_cpu_utilization_metric(spec["targetCPUUtilizationPercentage"])]
    other = _annotation_list(annotations, METRIC_SPECS_ANNOTATION, _metric_spec_from_v1)
    if other is not None:
        metrics = other + metrics  # the spec's CPU metric goes after the annotation's
    if not metrics:
        # autoscaling/v1 formerly had an implicit default applied in the controller;
        # upstream makes it explicit here, in conversion (see the module docstring).
        metrics = [_cpu_utilization_metric(DEFAULT_CPU_UTILIZATION)]
    v2spec["metrics"] = metrics
    behavior_text = annotations.get(BEHAVIOR_SPECS_ANNOTATION)
    if isinstance(behavior_text, str):
        try:
            _set(v2spec, "behavior", _behavior_from_internal(behavior_text))
        except (ValueError, _BadAnnotation):
            pass
    out["spec"] = v2spec

    v2status: JSONDict = {}
    if status is not None:
        _set(v2status, "observedGeneration", status.get("observedGeneration"))
        _set(v2status, "lastScaleTime", status.get("lastScaleTime"))
        _set(v2status, "currentReplicas", status.get("currentReplicas"))
        _set(v2status, "desiredReplicas", status.get("desiredReplicas"))
        if status.get("currentCPUUtilizationPercentage") is not None:
            v2status["currentMetrics"] = [{
                "type": "Resource",
                "resource": {"name": "cpu",
                             "current": {"averageUtilization": status["currentCPUUtilizationPercentage"]}},
            }]
    # "ignore any existing status values -- the ones here have more information"
    current = _annotation_list(annotations, METRIC_STATUSES_ANNOTATION, _metric_status_from_v1)
    if current is not None:
        if current:
            v2status["currentMetrics"] = current
        else:
            v2status.pop("currentMetrics", None)
    conditions = _annotation_list(annotations, CONDITIONS_ANNOTATION, _condition_from_v1)
    if conditions:
        v2status["conditions"] = conditions
    if status is not None or v2status:
        out["status"] = v2status

    kept = {k: v for k, v in annotations.items() if k not in _ROUND_TRIP_ANNOTATIONS}
    _put_annotations(out, old, kept)
    return out


def _put_annotations(out: JSONDict, old: JSONDict | None, annotations: JSONDict) -> None:
    """Set out.metadata.annotations; an emptied map is omitted, as Go's omitempty does."""
    if old is not None and annotations == old:
        return  # untouched: already copied with metadata
    if not annotations:
        if "metadata" in out:
            out["metadata"].pop("annotations", None)
        return
    out.setdefault("metadata", {})["annotations"] = annotations


# ------------------------------------------------------------------------- tables


# Served apiVersion/kind -> the apiVersion it is stored in, for the kinds served in
# several versions (the scheme's rows say the same with storage_group/storage_version; a
# test keeps the two in step). Kinds not listed are stored as served.
_STORAGE: dict[tuple[str, str], str] = {
    (_EVENTS_V1, "Event"): _CORE_V1,
    (_AUTOSCALING_V1, "HorizontalPodAutoscaler"): _AUTOSCALING_V2,
}

_CONVERTERS: dict[tuple[str, str, str], Converter] = {
    (_EVENTS_V1, _CORE_V1, "Event"): _event_to_core,
    (_CORE_V1, _EVENTS_V1, "Event"): _event_from_core,
    (_AUTOSCALING_V1, _AUTOSCALING_V2, "HorizontalPodAutoscaler"): _hpa_from_v1,
    (_AUTOSCALING_V2, _AUTOSCALING_V1, "HorizontalPodAutoscaler"): _hpa_to_v1,
}
