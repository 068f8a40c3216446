"""kapi.meta.conversion: events.k8s.io/v1 <-> v1 Event and autoscaling/v1 <-> v2 HPA."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kapi.meta.conversion import (
    BEHAVIOR_SPECS_ANNOTATION,
    CONDITIONS_ANNOTATION,
    METRIC_SPECS_ANNOTATION,
    METRIC_STATUSES_ANNOTATION,
    TOLERANCE_SCALE_UP_ANNOTATION,
    ConversionError,
    from_storage,
    storage_api_version,
    to_storage,
)

EV = "events.k8s.io/v1"
HPA = "HorizontalPodAutoscaler"


def _walk_ids(value: Any) -> set[int]:
    """ids of every dict/list inside value (to check outputs share nothing with inputs)."""
    ids: set[int] = set()
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            ids.add(id(v))
            stack.extend(v.values())
        elif isinstance(v, list):
            ids.add(id(v))
            stack.extend(v)
    return ids


def _convert_checked(fn: Any, api_version: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Run a conversion and check it neither mutated nor aliased its input."""
    before = copy.deepcopy(obj)
    out = fn(api_version, kind, obj)
    assert obj == before, "input mutated"
    assert out is not obj
    assert not (_walk_ids(out) & _walk_ids(obj)), "output shares nested objects with input"
    return out


# ---------------------------------------------------------------------------- events

EVENTS_V1_FULL: dict[str, Any] = {
    "apiVersion": EV,
    "kind": "Event",
    "metadata": {"name": "web.17a", "namespace": "default", "labels": {"a": "b"}},
    "eventTime": "2024-05-01T10:00:00.123456Z",
    "series": {"count": 4, "lastObservedTime": "2024-05-01T10:05:00.000001Z"},
    "reportingController": "kubernetes.io/kubelet",
    "reportingInstance": "node-1",
    "action": "Pulling",
    "reason": "Pulled",
    "regarding": {"kind": "Pod", "namespace": "default", "name": "web", "uid": "u-1",
                  "apiVersion": "v1", "resourceVersion": "12", "fieldPath": "spec.containers{web}"},
    "related": {"kind": "Node", "name": "node-1", "apiVersion": "v1"},
    "note": "Successfully pulled image",
    "type": "Normal",
    "deprecatedSource": {"component": "kubelet", "host": "node-1"},
    "deprecatedFirstTimestamp": "2024-05-01T09:00:00Z",
    "deprecatedLastTimestamp": "2024-05-01T10:05:00Z",
    "deprecatedCount": 7,
}

CORE_V1_FULL: dict[str, Any] = {
    "kind": "Event",
    "apiVersion": "v1",
    "metadata": {"name": "web.17a", "namespace": "default", "labels": {"a": "b"}},
    "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web", "uid": "u-1",
                       "apiVersion": "v1", "resourceVersion": "12",
                       "fieldPath": "spec.containers{web}"},
    "reason": "Pulled",
    "message": "Successfully pulled image",
    "source": {"component": "kubelet", "host": "node-1"},
    "firstTimestamp": "2024-05-01T09:00:00Z",
    "lastTimestamp": "2024-05-01T10:05:00Z",
    "count": 7,
    "type": "Normal",
    "eventTime": "2024-05-01T10:00:00.123456Z",
    "series": {"count": 4, "lastObservedTime": "2024-05-01T10:05:00.000001Z"},
    "action": "Pulling",
    "related": {"kind": "Node", "name": "node-1", "apiVersion": "v1"},
    "reportingComponent": "kubernetes.io/kubelet",
    "reportingInstance": "node-1",
}


def test_storage_versions_come_from_the_resource_table() -> None:
    assert storage_api_version(EV, "Event") == "v1"
    assert storage_api_version("autoscaling/v1", HPA) == "autoscaling/v2"
    assert storage_api_version("autoscaling/v2", HPA) == "autoscaling/v2"
    assert storage_api_version("v1", "Pod") == "v1"


def test_events_v1_to_core_field_by_field() -> None:
    out = _convert_checked(to_storage, EV, "Event", EVENTS_V1_FULL)
    assert out == CORE_V1_FULL
    assert out["apiVersion"] == "v1" and out["kind"] == "Event"
    assert out["involvedObject"] == EVENTS_V1_FULL["regarding"]
    assert out["message"] == EVENTS_V1_FULL["note"]
    assert out["reportingComponent"] == EVENTS_V1_FULL["reportingController"]
    assert out["source"] == EVENTS_V1_FULL["deprecatedSource"]
    assert out["firstTimestamp"] == EVENTS_V1_FULL["deprecatedFirstTimestamp"]
    assert out["lastTimestamp"] == EVENTS_V1_FULL["deprecatedLastTimestamp"]
    assert out["count"] == EVENTS_V1_FULL["deprecatedCount"]
    for same in ("eventTime", "series", "reportingInstance", "action", "reason", "related", "type"):
        assert out[same] == EVENTS_V1_FULL[same]
    for gone in ("regarding", "note", "reportingController", "deprecatedSource",
                 "deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount"):
        assert gone not in out


def test_core_to_events_v1_field_by_field() -> None:
    out = _convert_checked(from_storage, EV, "Event", CORE_V1_FULL)
    assert out == EVENTS_V1_FULL
    for gone in ("involvedObject", "message", "reportingComponent", "source",
                 "firstTimestamp", "lastTimestamp", "count"):
        assert gone not in out


def test_events_round_trips() -> None:
    assert from_storage(EV, "Event", to_storage(EV, "Event", EVENTS_V1_FULL)) == EVENTS_V1_FULL
    assert to_storage(EV, "Event", from_storage(EV, "Event", CORE_V1_FULL)) == CORE_V1_FULL


def test_events_keep_presence_and_drop_unknown_fields() -> None:
    minimal = {"apiVersion": EV, "kind": "Event", "metadata": {"name": "e"},
               "eventTime": "2024-05-01T10:00:00.000000Z", "note": None, "message": "not v1"}
    out = to_storage(EV, "Event", minimal)
    assert out == {"kind": "Event", "apiVersion": "v1", "metadata": {"name": "e"},
                   "eventTime": "2024-05-01T10:00:00.000000Z"}


def test_events_series_is_copied_not_folded_into_count() -> None:
    # Upstream conversion copies series as-is; count <-> deprecatedCount only.
    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "series": {"count": 9, "lastObservedTime": "2024-05-01T10:00:00.000000Z"}}
    out = from_storage(EV, "Event", core)
    assert out["series"] == core["series"]
    assert "deprecatedCount" not in out and "deprecatedLastTimestamp" not in out


def test_identity_when_versions_match_or_no_conversion() -> None:
    core = copy.deepcopy(CORE_V1_FULL)
    assert to_storage("v1", "Event", core) is core
    assert from_storage("v1", "Event", core) is core
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    assert to_storage("v1", "Pod", pod) is pod
    assert from_storage("v1", "Pod", pod) is pod
    hpa = {"apiVersion": "autoscaling/v2", "kind": HPA, "spec": {}}
    assert to_storage("autoscaling/v2", HPA, hpa) is hpa
    assert from_storage("autoscaling/v2", HPA, hpa) is hpa


# ------------------------------------------------------------------------------- HPA

TARGET = {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"}


def _v2(spec: dict[str, Any], status: dict[str, Any] | None = None,
        annotations: dict[str, str] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"kind": HPA, "apiVersion": "autoscaling/v2",
                           "metadata": {"name": "web", "namespace": "default"}, "spec": spec}
    if annotations is not None:
        obj["metadata"]["annotations"] = annotations
    if status is not None:
        obj["status"] = status
    return obj


V1_FULL: dict[str, Any] = {
    "kind": HPA,
    "apiVersion": "autoscaling/v1",
    "metadata": {"name": "web", "namespace": "default", "annotations": {"team": "a"}},
    "spec": {
        "scaleTargetRef": TARGET,
        "minReplicas": 2,
        "maxReplicas": 10,
        "targetCPUUtilizationPercentage": 70,
    },
    "status": {
        "observedGeneration": 3,
        "lastScaleTime": "2024-05-01T10:00:00Z",
        "currentReplicas": 4,
        "desiredReplicas": 5,
        "currentCPUUtilizationPercentage": 85,
    },
}

V2_OF_V1_FULL = _v2(
    {"scaleTargetRef": TARGET, "minReplicas": 2, "maxReplicas": 10,
     "metrics": [{"type": "Resource", "resource": {
         "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
    {"observedGeneration": 3, "lastScaleTime": "2024-05-01T10:00:00Z", "currentReplicas": 4,
     "desiredReplicas": 5, "currentMetrics": [{"type": "Resource", "resource": {
         "name": "cpu", "current": {"averageUtilization": 85}}}]},
    annotations={"team": "a"})

BASE_SPEC: dict[str, Any] = {"scaleTargetRef": TARGET, "minReplicas": 1, "maxReplicas": 5}


def _metric(name: str, **target: Any) -> dict[str, Any]:
    return {"type": "Resource", "resource": {"name": name, "target": dict(target)}}


def test_hpa_v1_to_v2_field_by_field() -> None:
    out = _convert_checked(to_storage, "autoscaling/v1", HPA, V1_FULL)
    assert out == V2_OF_V1_FULL


def test_hpa_v2_to_v1_field_by_field() -> None:
    out = _convert_checked(from_storage, "autoscaling/v1", HPA, V2_OF_V1_FULL)
    # The raw current metric is kept in an annotation even though it maps to the
    # CPU percentage ("we need to save the status even if it maps to a CPU
    # utilization status in order to save the raw value as well").
    expected = copy.deepcopy(V1_FULL)
    expected["metadata"]["annotations"][METRIC_STATUSES_ANNOTATION] = (
        '[{"type":"Resource","resource":{"name":"cpu","currentAverageUtilization":85,'
        '"currentAverageValue":"0"}}]')
    assert out == expected


def test_hpa_v1_round_trip() -> None:
    stored = to_storage("autoscaling/v1", HPA, V1_FULL)
    assert stored["apiVersion"] == "autoscaling/v2"
    back = from_storage("autoscaling/v1", HPA, stored)
    assert {k: v for k, v in back.items() if k != "metadata"} == \
        {k: v for k, v in V1_FULL.items() if k != "metadata"}
    assert back["metadata"]["annotations"]["team"] == "a"
    # ... and the v1 object read back stores as the same v2 object (annotations
    # dropped), except that the raw current metric went through the v1 alpha type,
    # whose currentAverageValue is a non-pointer Quantity: upstream brings it back "0".
    again = to_storage("autoscaling/v1", HPA, back)
    assert again["spec"] == stored["spec"] and again["metadata"] == stored["metadata"]
    assert again["status"]["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageValue": "0", "averageUtilization": 85}}}]
    assert {k: v for k, v in again["status"].items() if k != "currentMetrics"} == \
        {k: v for k, v in stored["status"].items() if k != "currentMetrics"}


def test_hpa_v1_spec_round_trip_is_exact() -> None:
    v1 = {k: copy.deepcopy(v) for k, v in V1_FULL.items() if k != "status"}
    assert from_storage("autoscaling/v1", HPA, to_storage("autoscaling/v1", HPA, v1)) == v1


def test_hpa_v2_that_v1_expresses_round_trips_exactly() -> None:
    v2 = _v2(dict(BASE_SPEC, metrics=[_metric("cpu", type="Utilization", averageUtilization=60)]),
             {"currentReplicas": 2, "desiredReplicas": 3})
    v1 = _convert_checked(from_storage, "autoscaling/v1", HPA, v2)
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 60
    assert "annotations" not in v1["metadata"]
    assert _convert_checked(to_storage, "autoscaling/v1", HPA, v1) == v2


def test_hpa_v1_without_target_gets_the_80_percent_cpu_metric() -> None:
    v1 = {"apiVersion": "autoscaling/v1", "kind": HPA, "metadata": {"name": "web"},
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 3}}
    out = to_storage("autoscaling/v1", HPA, v1)
    assert out["spec"]["metrics"] == [_metric("cpu", type="Utilization", averageUtilization=80)]
    assert "minReplicas" not in out["spec"]  # v1/v2 defaulting's job, not conversion's
    assert "status" not in out
    # Reading it back as v1 shows the default.
    assert from_storage("autoscaling/v1", HPA, out)["spec"]["targetCPUUtilizationPercentage"] == 80


def test_hpa_v2_memory_metrics_survive_v1() -> None:
    cpu = _metric("cpu", type="Utilization", averageUtilization=50)
    memory = _metric("memory", type="Utilization", averageUtilization=60)
    memory_value = _metric("memory", type="AverageValue", averageValue="512Mi")
    v2 = _v2(dict(BASE_SPEC, metrics=[cpu, memory, memory_value]))
    v1 = _convert_checked(from_storage, "autoscaling/v1", HPA, v2)
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 50
    assert v1["metadata"]["annotations"] == {METRIC_SPECS_ANNOTATION: (
        '[{"type":"Resource","resource":{"name":"memory","targetAverageUtilization":60}},'
        '{"type":"Resource","resource":{"name":"memory","targetAverageValue":"512Mi"}}]')}
    back = _convert_checked(to_storage, "autoscaling/v1", HPA, v1)
    # Upstream appends the spec's CPU metric after the annotation's metrics.
    assert back["spec"]["metrics"] == [memory, memory_value, cpu]
    assert "annotations" not in back["metadata"]


def test_hpa_v2_memory_only_gets_no_cpu_default() -> None:
    memory = _metric("memory", type="Utilization", averageUtilization=60)
    v2 = _v2(dict(BASE_SPEC, metrics=[memory]))
    v1 = from_storage("autoscaling/v1", HPA, v2)
    assert "targetCPUUtilizationPercentage" not in v1["spec"]
    assert to_storage("autoscaling/v1", HPA, v1) == v2


def test_hpa_cpu_average_value_metric_is_not_the_percentage() -> None:
    cpu_value = _metric("cpu", type="AverageValue", averageValue="500m")
    v2 = _v2(dict(BASE_SPEC, metrics=[cpu_value]))
    v1 = from_storage("autoscaling/v1", HPA, v2)
    assert "targetCPUUtilizationPercentage" not in v1["spec"]
    assert json.loads(v1["metadata"]["annotations"][METRIC_SPECS_ANNOTATION]) == [
        {"type": "Resource", "resource": {"name": "cpu", "targetAverageValue": "500m"}}]
    assert to_storage("autoscaling/v1", HPA, v1) == v2


def test_hpa_every_metric_source_round_trips() -> None:
    selector = {"matchLabels": {"z": "1", "a": "2"},
                "matchExpressions": [{"key": "k", "operator": "In", "values": ["x"]}]}
    metrics = [
        {"type": "Object", "object": {
            "describedObject": {"kind": "Ingress", "name": "main", "apiVersion": "networking.k8s.io/v1"},
            "target": {"type": "Value", "value": "10k"},
            "metric": {"name": "requests-per-second", "selector": selector}}},
        {"type": "Pods", "pods": {
            "metric": {"name": "packets"},
            "target": {"type": "AverageValue", "averageValue": "1k"}}},
        {"type": "ContainerResource", "containerResource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 65},
            "container": "app"}},
        {"type": "External", "external": {
            "metric": {"name": "queue", "selector": {"matchLabels": {"q": "w"}}},
            "target": {"type": "AverageValue", "averageValue": "30"}}},
        {"type": "External", "external": {
            "metric": {"name": "queue"}, "target": {"type": "Value", "value": "100"}}},
    ]
    v2 = _v2(dict(BASE_SPEC, metrics=metrics))
    v1 = from_storage("autoscaling/v1", HPA, v2)
    text = v1["metadata"]["annotations"][METRIC_SPECS_ANNOTATION]
    # Go's encoding of the v1 ("alpha") types: struct field order, sorted map keys.
    assert text.startswith(
        '[{"type":"Object","object":{"target":{"kind":"Ingress","name":"main",'
        '"apiVersion":"networking.k8s.io/v1"},"metricName":"requests-per-second",'
        '"targetValue":"10k","selector":{"matchLabels":{"a":"2","z":"1"},'
        '"matchExpressions":[{"key":"k","operator":"In","values":["x"]}]}}},'
        '{"type":"Pods","pods":{"metricName":"packets","targetAverageValue":"1k"}},'
        '{"type":"ContainerResource","containerResource":{"name":"cpu",'
        '"targetAverageUtilization":65,"container":"app"}},')
    back = to_storage("autoscaling/v1", HPA, v1)
    assert back == v2


def test_hpa_object_and_pods_current_metrics_round_trip() -> None:
    current = [
        {"type": "Object", "object": {
            "metric": {"name": "requests-per-second", "selector": {"matchLabels": {"a": "1"}}},
            "current": {"value": "9k", "averageValue": "3k"},
            "describedObject": {"kind": "Ingress", "name": "main",
                                "apiVersion": "networking.k8s.io/v1"}}},
        {"type": "Pods", "pods": {"metric": {"name": "packets"},
                                  "current": {"averageValue": "900"}}},
    ]
    status = {"currentReplicas": 3, "desiredReplicas": 3, "currentMetrics": current}
    v2 = _v2(dict(BASE_SPEC), status)
    v1 = from_storage("autoscaling/v1", HPA, v2)
    # v1's names carry the side: currentValue / currentAverageValue (targetValue in specs)
    assert v1["metadata"]["annotations"][METRIC_STATUSES_ANNOTATION] == (
        '[{"type":"Object","object":{"target":{"kind":"Ingress","name":"main",'
        '"apiVersion":"networking.k8s.io/v1"},"metricName":"requests-per-second",'
        '"currentValue":"9k","selector":{"matchLabels":{"a":"1"}},"averageValue":"3k"}},'
        '{"type":"Pods","pods":{"metricName":"packets","currentAverageValue":"900"}}]')
    assert to_storage("autoscaling/v1", HPA, v1)["status"]["currentMetrics"] == current


def test_hpa_current_metrics_and_conditions_survive_v1() -> None:
    current = [
        {"type": "Resource", "resource": {"name": "cpu",
                                          "current": {"averageValue": "250m", "averageUtilization": 42}}},
        {"type": "Resource", "resource": {"name": "memory",
                                          "current": {"averageValue": "300Mi", "averageUtilization": 70}}},
        {"type": "Pods", "pods": {"metric": {"name": "packets"}, "current": {"averageValue": "900"}}},
    ]
    conditions = [
        {"type": "AbleToScale", "status": "True", "lastTransitionTime": "2024-05-01T10:00:00Z",
         "reason": "ReadyForNewScale", "message": "recommended size matches current size"},
        {"type": "ScalingActive", "status": "True", "lastTransitionTime": "2024-05-01T10:00:00Z",
         "reason": "ValidMetricFound"},
    ]
    status = {"observedGeneration": 1, "currentReplicas": 3, "desiredReplicas": 3,
              "currentMetrics": current, "conditions": conditions}
    v2 = _v2(dict(BASE_SPEC, metrics=[_metric("cpu", type="Utilization", averageUtilization=50),
                                      _metric("memory", type="Utilization", averageUtilization=75)]),
             status, annotations={"owner": "me"})
    v1 = _convert_checked(from_storage, "autoscaling/v1", HPA, v2)
    assert v1["status"] == {"observedGeneration": 1, "currentReplicas": 3, "desiredReplicas": 3,
                            "currentCPUUtilizationPercentage": 42}
    annotations = v1["metadata"]["annotations"]
    assert annotations["owner"] == "me"
    assert annotations[CONDITIONS_ANNOTATION] == (
        '[{"type":"AbleToScale","status":"True","lastTransitionTime":"2024-05-01T10:00:00Z",'
        '"reason":"ReadyForNewScale","message":"recommended size matches current size"},'
        '{"type":"ScalingActive","status":"True","lastTransitionTime":"2024-05-01T10:00:00Z",'
        '"reason":"ValidMetricFound"}]')
    assert json.loads(annotations[METRIC_STATUSES_ANNOTATION])[1] == {
        "type": "Resource",
        "resource": {"name": "memory", "currentAverageUtilization": 70, "currentAverageValue": "300Mi"}}
    back = _convert_checked(to_storage, "autoscaling/v1", HPA, v1)
    assert back["status"] == status  # the annotation wins over currentCPUUtilizationPercentage
    assert back["metadata"]["annotations"] == {"owner": "me"}
    assert back["spec"]["metrics"] == [_metric("memory", type="Utilization", averageUtilization=75),
                                       _metric("cpu", type="Utilization", averageUtilization=50)]


def test_hpa_behavior_annotation_is_the_internal_go_json() -> None:
    behavior = {
        "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                 {"type": "Percent", "value": 100, "periodSeconds": 15}]},
        "scaleDown": {"stabilizationWindowSeconds": 300, "tolerance": "50m",
                      "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}]},
    }
    v2 = _v2(dict(BASE_SPEC, metrics=[_metric("cpu", type="Utilization", averageUtilization=50)],
                  behavior=behavior))
    v1 = from_storage("autoscaling/v1", HPA, v2)
    assert v1["metadata"]["annotations"] == {BEHAVIOR_SPECS_ANNOTATION: (
        '{"ScaleUp":{"StabilizationWindowSeconds":0,"SelectPolicy":"Max","Policies":'
        '[{"Type":"Pods","Value":4,"PeriodSeconds":15},{"Type":"Percent","Value":100,"PeriodSeconds":15}],'
        '"Tolerance":null},"ScaleDown":{"StabilizationWindowSeconds":300,"SelectPolicy":null,'
        '"Policies":[{"Type":"Percent","Value":10,"PeriodSeconds":60}],"Tolerance":"50m"}}')}
    assert to_storage("autoscaling/v1", HPA, v1) == v2


def test_hpa_behavior_annotation_is_read_case_insensitively_and_zero_means_none() -> None:
    v1 = {"apiVersion": "autoscaling/v1", "kind": HPA, "metadata": {"name": "web", "annotations": {
        BEHAVIOR_SPECS_ANNOTATION: '{"scaleDown":{"stabilizationWindowSeconds":60}}'}},
        "spec": dict(BASE_SPEC, targetCPUUtilizationPercentage=50)}
    assert to_storage("autoscaling/v1", HPA, v1)["spec"]["behavior"] == {
        "scaleDown": {"stabilizationWindowSeconds": 60}}
    v1["metadata"]["annotations"][BEHAVIOR_SPECS_ANNOTATION] = '{"ScaleUp":null,"ScaleDown":null}'
    assert "behavior" not in to_storage("autoscaling/v1", HPA, v1)["spec"]


def test_hpa_stale_round_trip_annotations_are_replaced_or_dropped() -> None:
    stale = {METRIC_SPECS_ANNOTATION: "[]", BEHAVIOR_SPECS_ANNOTATION: "{}",
             TOLERANCE_SCALE_UP_ANNOTATION: "1", "keep": "yes"}
    v2 = _v2(dict(BASE_SPEC, metrics=[_metric("cpu", type="Utilization", averageUtilization=50)]),
             annotations=stale)
    v1 = from_storage("autoscaling/v1", HPA, v2)
    assert v1["metadata"]["annotations"] == {"keep": "yes"}


def test_hpa_malformed_annotations_are_ignored() -> None:
    v1 = {"apiVersion": "autoscaling/v1", "kind": HPA, "metadata": {"name": "web", "annotations": {
        METRIC_SPECS_ANNOTATION: "not json", BEHAVIOR_SPECS_ANNOTATION: "[1]",
        METRIC_STATUSES_ANNOTATION: '{"a":1}', CONDITIONS_ANNOTATION: "[1, 2]"}},
        "spec": dict(BASE_SPEC, targetCPUUtilizationPercentage=50),
        "status": {"currentReplicas": 1, "desiredReplicas": 1, "currentCPUUtilizationPercentage": 10}}
    out = to_storage("autoscaling/v1", HPA, v1)
    assert out["spec"]["metrics"] == [_metric("cpu", type="Utilization", averageUtilization=50)]
    assert "behavior" not in out["spec"]
    assert out["status"] == {"currentReplicas": 1, "desiredReplicas": 1, "currentMetrics": [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 10}}}]}
    assert "annotations" not in out["metadata"]


def test_hpa_annotation_json_escapes_like_go() -> None:
    conditions = [{"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
                   "message": "missing request for cpu in container <app> & sidecar é"}]
    v2 = _v2(dict(BASE_SPEC, metrics=[_metric("cpu", type="Utilization", averageUtilization=50)]),
             {"currentReplicas": 1, "desiredReplicas": 1, "conditions": conditions})
    text = from_storage("autoscaling/v1", HPA, v2)["metadata"]["annotations"][CONDITIONS_ANNOTATION]
    assert text == ('[{"type":"ScalingActive","status":"False","lastTransitionTime":null,'
                    '"reason":"FailedGetResourceMetric","message":"missing request for cpu in '
                    'container \\u003capp\\u003e \\u0026 sidecar é"}]')
    back = to_storage("autoscaling/v1", HPA, from_storage("autoscaling/v1", HPA, v2))
    assert back["status"]["conditions"] == conditions


def test_hpa_wrong_container_types_raise() -> None:
    with pytest.raises(ConversionError):
        to_storage("autoscaling/v1", HPA, {"apiVersion": "autoscaling/v1", "kind": HPA, "spec": "x"})
    with pytest.raises(ConversionError):
        from_storage("autoscaling/v1", HPA, _v2(dict(BASE_SPEC, metrics={"a": 1})))
