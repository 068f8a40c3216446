"""HorizontalPodAutoscalers: served as autoscaling/v2 (stored) and autoscaling/v1
(converted on the way in and out), each version with its own defaults; generation
tracking and the status fields Go always writes."""

from __future__ import annotations

from kapi.defaulting import workloads as defaults
from kapi.meta.resources import Resource, status_of
from kapi.printers import autoscaling as autoscaling_printers
from kapi.registry.kinds.base import ALL, Obj, Strategy, row

_STATUS = (status_of("HorizontalPodAutoscaler"),)


class HPAStrategy(Strategy):
    def default(self, r: Resource, obj: Obj) -> None:
        (defaults.hpa_v1 if r.version == "v1" else defaults.hpa_v2)(obj)


HPAS = HPAStrategy(
    row("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler",
        "io.k8s.api.autoscaling.v2", short_names=("hpa",), categories=ALL, subresources=_STATUS),
    row("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler",
        "io.k8s.api.autoscaling.v1", short_names=("hpa",), categories=ALL, subresources=_STATUS,
        storage_version="v2"),
    printer=autoscaling_printers.HPA, tracks_generation=True,
    initial_status={"currentReplicas": 0, "desiredReplicas": 0})
