"""Deployments, ReplicaSets, StatefulSets and ControllerRevisions: generation tracking,
the status fields Go always writes, status writes that may also change annotations,
finalizers and owner references (upstream's apps status strategies), and an immutable
selector."""

from __future__ import annotations

from kapi.defaulting import workloads as defaults
from kapi.meta.resources import SCALE, status_of
from kapi.printers import apps as apps_printers
from kapi.registry.kinds.base import ALL, Strategy, row
from kapi.validation import workloads as rules

APPS = "io.k8s.api.apps.v1"

DEPLOYMENTS = Strategy(
    row("apps", "v1", "deployments", "Deployment", APPS, short_names=("deploy",),
        categories=ALL, subresources=(status_of("Deployment"), SCALE)),
    printer=apps_printers.DEPLOYMENT, tracks_generation=True, status_may_change_meta=True,
    defaulter=defaults.deployment, validate_rule=rules.validate_deployment,
    update_rule=rules.immutable_selector)

REPLICA_SETS = Strategy(
    row("apps", "v1", "replicasets", "ReplicaSet", APPS, short_names=("rs",), categories=ALL,
        subresources=(status_of("ReplicaSet"), SCALE), field_selectors=("status.replicas",)),
    printer=apps_printers.REPLICA_SET, tracks_generation=True, status_may_change_meta=True,
    initial_status={"replicas": 0}, defaulter=defaults.replicaset,
    validate_rule=rules.validate_replicaset, update_rule=rules.immutable_selector)

STATEFUL_SETS = Strategy(
    row("apps", "v1", "statefulsets", "StatefulSet", APPS, short_names=("sts",),
        categories=ALL, subresources=(status_of("StatefulSet"), SCALE),
        field_selectors=("status.successful",)),
    printer=apps_printers.STATEFUL_SET, tracks_generation=True, status_may_change_meta=True,
    initial_status={"replicas": 0, "availableReplicas": 0}, defaulter=defaults.statefulset,
    validate_rule=rules.validate_statefulset, update_rule=rules.validate_statefulset_update)

CONTROLLER_REVISIONS = Strategy(
    row("apps", "v1", "controllerrevisions", "ControllerRevision", APPS),
    printer=apps_printers.CONTROLLER_REVISION)
