"""Cluster-policy kinds with no controller behind them in kapi: scheduling.k8s.io/v1
PriorityClasses and node.k8s.io/v1 RuntimeClasses.

Pods name them: the Priority and RuntimeClass admission steps (kapi/admission/podclasses.py)
resolve a pod's priorityClassName and runtimeClassName when the pod is created. The two
system priority classes are created at start (kapi/registry/bootstrap.py).
"""

from __future__ import annotations

from kapi.defaulting import cluster as defaults
from kapi.printers import cluster as printers
from kapi.registry.kinds.base import Strategy, row
from kapi.validation import cluster as rules

PRIORITY_CLASSES = Strategy(
    row("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", "io.k8s.api.scheduling.v1",
        namespaced=False, short_names=("pc",)),
    printer=printers.PRIORITY_CLASS, defaulter=defaults.priority_class,
    validate_rule=rules.priority_class, update_rule=rules.priority_class_update,
    admission=("Priority",))

RUNTIME_CLASSES = Strategy(
    row("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", "io.k8s.api.node.v1",
        namespaced=False),
    printer=printers.RUNTIME_CLASS, validate_rule=rules.runtime_class,
    update_rule=rules.runtime_class_update)
