"""apps/v1 printers: deployments, replicasets, statefulsets, daemonsets, controllerrevisions.

Owns upstream's columns and cells for these kinds (READY "2/3", UP-TO-DATE, node
selector, the owning controller of a revision, ...).

Must never: mutate objects, read the clock, or do I/O.
"""

from __future__ import annotations

from typing import Any

from kapi.printers import common
from kapi.printers.common import AGE, NAME, Column, Ctx, Obj, Printer, age, get, integer, name

DEPLOYMENT_COLUMNS = (
    NAME,
    Column("Ready", "Number of the pod with ready state"),
    Column("Up-to-date", "Total number of non-terminating pods targeted by this deployment that "
                         "have the desired template spec."),
    Column("Available", "Total number of available non-terminating pods (ready for at least "
                        "minReadySeconds) targeted by this deployment."),
    AGE, common.CONTAINERS, common.IMAGES,
    Column("Selector", "Label selector for pods.", priority=1),
)


def deployment_row(d: Obj, ctx: Ctx) -> list[Any]:
    ready = f"{integer(d, 'status', 'readyReplicas')}/{integer(d, 'spec', 'replicas')}"
    selector = common.selector_string(get(d, "spec", "selector"), invalid="<invalid>")
    return [name(d), ready, integer(d, "status", "updatedReplicas"),
            integer(d, "status", "availableReplicas"), age(d, ctx),
            *common.template_containers(d), selector]


REPLICA_SET_COLUMNS = (
    NAME,
    Column("Desired", "Replicas is the number of desired pods.", type="integer"),
    Column("Current", "Replicas is the most recently observed number of non-terminating pods.",
           type="integer"),
    Column("Ready", "The number of non-terminating pods targeted by this ReplicaSet with a "
                    "Ready Condition.", type="integer"),
    AGE, common.CONTAINERS, common.IMAGES,
    Column("Selector", "Selector is a label query over pods that should match the replica "
                       "count.", priority=1),
)


def replica_set_row(rs: Obj, ctx: Ctx) -> list[Any]:
    return [name(rs), integer(rs, "spec", "replicas"), integer(rs, "status", "replicas"),
            integer(rs, "status", "readyReplicas"), age(rs, ctx), *common.template_containers(rs),
            common.format_label_selector(get(rs, "spec", "selector"))]


STATEFUL_SET_COLUMNS = (NAME, Column("Ready", "Number of the pod with ready state"), AGE,
                        common.CONTAINERS, common.IMAGES)


def stateful_set_row(sts: Obj, ctx: Ctx) -> list[Any]:
    ready = f"{integer(sts, 'status', 'readyReplicas')}/{integer(sts, 'spec', 'replicas')}"
    return [name(sts), ready, age(sts, ctx), *common.template_containers(sts)]


DAEMON_SET_COLUMNS = (
    NAME,
    Column("Desired", "The total number of nodes that should be running the daemon pod "
                      "(including nodes correctly running the daemon pod).", type="integer"),
    Column("Current", "The number of nodes that are running at least 1 daemon pod and are "
                      "supposed to run the daemon pod.", type="integer"),
    Column("Ready", "numberReady is the number of nodes that should be running the daemon pod "
                    "and have one or more of the daemon pod running with a Ready Condition.",
           type="integer"),
    Column("Up-to-date", "The total number of nodes that are running updated daemon pod",
           type="integer"),
    Column("Available", "The number of nodes that should be running the daemon pod and have one "
                        "or more of the daemon pod running and available (ready for at least "
                        "spec.minReadySeconds)", type="integer"),
    Column("Node Selector", "NodeSelector is a selector which must be true for the pod to fit "
                            "on a node."),
    AGE, common.CONTAINERS, common.IMAGES,
    Column("Selector", "A label query over pods that are managed by the daemon set.",
           priority=1),
)


def daemon_set_row(ds: Obj, ctx: Ctx) -> list[Any]:
    status = [integer(ds, "status", f) for f in ("desiredNumberScheduled",
                                                  "currentNumberScheduled", "numberReady",
                                                  "updatedNumberScheduled", "numberAvailable")]
    node_selector = common.format_labels(get(ds, "spec", "template", "spec", "nodeSelector"))
    return [name(ds), *status, node_selector, age(ds, ctx), *common.template_containers(ds),
            common.format_label_selector(get(ds, "spec", "selector"))]


CONTROLLER_REVISION_COLUMNS = (
    NAME,
    Column("Controller", "Controller of the object"),
    Column("Revision", "Revision indicates the revision of the state represented by Data."),
    AGE,
)


def _controller_name(obj: Obj) -> str:
    """formatResourceName(GroupKind of the controller ref, name, withKind=true)."""
    ref = next((r for r in get(obj, "metadata", "ownerReferences", default=[])
                if r.get("controller")), None)
    if ref is None:
        return "<none>"
    api_version, kind = ref.get("apiVersion", ""), ref.get("kind", "")
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    if not group and not kind:
        return ref.get("name", "")
    group_kind = f"{kind}.{group}" if group else kind
    return f"{group_kind.lower()}/{ref.get('name', '')}"


def controller_revision_row(cr: Obj, ctx: Ctx) -> list[Any]:
    return [name(cr), _controller_name(cr), integer(cr, "revision"), age(cr, ctx)]


DEPLOYMENT = Printer(DEPLOYMENT_COLUMNS, deployment_row)
REPLICA_SET = Printer(REPLICA_SET_COLUMNS, replica_set_row)
STATEFUL_SET = Printer(STATEFUL_SET_COLUMNS, stateful_set_row)
DAEMON_SET = Printer(DAEMON_SET_COLUMNS, daemon_set_row)
CONTROLLER_REVISION = Printer(CONTROLLER_REVISION_COLUMNS, controller_revision_row)
