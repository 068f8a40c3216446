"""flowcontrol.apiserver.k8s.io/v1 FlowSchemas and PriorityLevelConfigurations, with
status subresources, and the configuration upstream's API server creates at start: the
mandatory objects (exempt, catch-all) and the suggested ones, built here as data
(kapi/registry/bootstrap.py creates whichever are missing).

They are stored and listed; kapi does not classify or queue requests by them (README).
"""

from __future__ import annotations

from typing import Any

from kapi.defaulting import cluster as defaults
from kapi.meta.resources import status_of
from kapi.printers import cluster as printers
from kapi.registry.kinds.base import Obj, Strategy, row
from kapi.validation import cluster as rules

GROUP, VERSION = "flowcontrol.apiserver.k8s.io", "v1"
PACKAGE = "io.k8s.api.flowcontrol.v1"
AUTOUPDATE = "apf.kubernetes.io/autoupdate-spec"

FLOW_SCHEMAS = Strategy(
    row(GROUP, VERSION, "flowschemas", "FlowSchema", PACKAGE, namespaced=False,
        subresources=(status_of("FlowSchema"),)),
    printer=printers.FLOW_SCHEMA, defaulter=defaults.flow_schema,
    validate_rule=rules.flow_schema, tracks_generation=True, status_may_change_meta=True)

PRIORITY_LEVELS = Strategy(
    row(GROUP, VERSION, "prioritylevelconfigurations", "PriorityLevelConfiguration", PACKAGE,
        namespaced=False, subresources=(status_of("PriorityLevelConfiguration"),)),
    printer=printers.PRIORITY_LEVEL, defaulter=defaults.priority_level,
    validate_rule=rules.priority_level, tracks_generation=True,
    status_may_change_meta=True)


def _meta(name: str) -> Obj:
    return {"name": name, "annotations": {AUTOUPDATE: "true"}}


def _level(name: str, shares: int, lendable: int, queues: int = 0, hand: int = 0) -> Obj:
    if queues:
        response: Obj = {"type": "Queue", "queuing": {"queues": queues, "handSize": hand,
                                                      "queueLengthLimit": 50}}
    else:
        response = {"type": "Reject"}
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "PriorityLevelConfiguration",
            "metadata": _meta(name),
            "spec": {"type": "Limited", "limited": {
                "nominalConcurrencyShares": shares, "lendablePercent": lendable,
                "limitResponse": response}}}


def _users(*names: str) -> list[Obj]:
    return [{"kind": "User", "user": {"name": n}} for n in names]


def _groups(*names: str) -> list[Obj]:
    return [{"kind": "Group", "group": {"name": n}} for n in names]


def _sas(*names: str) -> list[Obj]:
    return [{"kind": "ServiceAccount", "serviceAccount": {"namespace": "kube-system", "name": n}}
            for n in names]


def _resources(verbs: list[str], groups: list[str], resources: list[str],
               cluster_scope: bool = True) -> Obj:
    return {"verbs": verbs, "apiGroups": groups, "resources": resources,
            "clusterScope": cluster_scope, "namespaces": ["*"]}


EVERYTHING: dict[str, list[Obj]] = {
    "resourceRules": [_resources(["*"], ["*"], ["*"])],
    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}]}


def _schema(name: str, level: str, precedence: int, method: str | None,
            subjects: list[Obj], **rules_: Any) -> Obj:
    spec: Obj = {"priorityLevelConfiguration": {"name": level},
                 "matchingPrecedence": precedence,
                 "rules": [{"subjects": subjects, **(rules_ or EVERYTHING)}]}
    if method:
        spec["distinguisherMethod"] = {"type": method}
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "FlowSchema", "metadata": _meta(name),
            "spec": spec}


LEASES = [_resources(["get", "create", "update"], ["coordination.k8s.io"], ["leases"], False)]
EVERYONE = ("system:unauthenticated", "system:authenticated")

# upstream's mandatory and suggested configuration (apiserver/pkg/apis/flowcontrol/bootstrap)
DEFAULT_LEVELS: tuple[Obj, ...] = (
    {"apiVersion": f"{GROUP}/{VERSION}", "kind": "PriorityLevelConfiguration",
     "metadata": _meta("exempt"),
     "spec": {"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0,
                                           "lendablePercent": 0}}},
    _level("catch-all", 5, 0),
    _level("node-high", 40, 25, 64, 6),
    _level("system", 30, 33, 64, 6),
    _level("leader-election", 10, 0, 16, 4),
    _level("workload-high", 40, 50, 128, 6),
    _level("workload-low", 100, 90, 128, 6),
    _level("global-default", 20, 50, 128, 6),
)

DEFAULT_SCHEMAS: tuple[Obj, ...] = (
    _schema("exempt", "exempt", 1, None, _groups("system:masters")),
    _schema("probes", "exempt", 2, None, _groups(*EVERYONE), nonResourceRules=[
        {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/readyz", "/livez"]}]),
    _schema("system-leader-election", "leader-election", 100, "ByUser",
            _users("system:kube-controller-manager", "system:kube-scheduler")
            + _sas("kube-controller-manager", "kube-scheduler"), resourceRules=LEASES),
    _schema("endpoint-controller", "workload-high", 150, "ByUser",
            _users("system:kube-controller-manager") + _sas("endpoint-controller"),
            resourceRules=[_resources(["get", "create", "update"], [""], ["endpoints"], False)]),
    _schema("workload-leader-election", "leader-election", 200, "ByUser",
            [{"kind": "ServiceAccount", "serviceAccount": {"namespace": "kube-system",
                                                           "name": "*"}}],
            resourceRules=LEASES),
    _schema("system-node-high", "node-high", 400, "ByUser", _groups("system:nodes"),
            resourceRules=[_resources(["*"], [""], ["nodes", "nodes/status"]),
                           _resources(["*"], ["coordination.k8s.io"], ["leases"], False)]),
    _schema("system-nodes", "system", 500, "ByUser", _groups("system:nodes")),
    _schema("kube-controller-manager", "workload-high", 800, "ByNamespace",
            _users("system:kube-controller-manager")),
    _schema("kube-scheduler", "workload-high", 800, "ByNamespace",
            _users("system:kube-scheduler")),
    _schema("kube-system-service-accounts", "workload-high", 900, "ByNamespace",
            [{"kind": "ServiceAccount", "serviceAccount": {"namespace": "kube-system",
                                                           "name": "*"}}]),
    _schema("service-accounts", "workload-low", 9000, "ByUser",
            _groups("system:serviceaccounts")),
    _schema("global-default", "global-default", 9900, "ByUser", _groups(*EVERYONE)),
    _schema("catch-all", "catch-all", 10000, "ByUser", _groups(*EVERYONE)),
)
