"""The ClusterRole aggregation controller: a ClusterRole with an aggregationRule has as
its rules the rules of every other ClusterRole its clusterRoleSelectors select (each
rule once, in the order of the selected roles' names), as upstream's
clusterroleaggregation controller keeps them.

Any change of a ClusterRole re-queues every aggregated role (there are few). It writes
only the rules of aggregated roles, and never mutates cached objects.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from runtime.client.resources import GVR
from runtime.client.rest import ApiError, Client
from runtime.controllers.base import Controller, Reconciler
from runtime.util.selectors import matches

log = logging.getLogger(__name__)

Obj = dict[str, Any]
CLUSTERROLES = GVR("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole",
                   namespaced=False)


def aggregated_rules(role: Obj, roles: list[Obj]) -> list[Obj]:
    selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
    name = role["metadata"]["name"]
    rules: list[Obj] = []
    for other in sorted(roles, key=lambda r: r["metadata"]["name"]):
        if other["metadata"]["name"] == name:
            continue
        labels = other["metadata"].get("labels") or {}
        if any(matches(s, labels) for s in selectors):
            rules += [r for r in other.get("rules") or [] if r not in rules]
    return rules


class ClusterRoleAggregationController(Reconciler):
    def __init__(self, ctx: Any) -> None:
        self.client: Client = ctx.client
        self.roles = ctx.informers.get(CLUSTERROLES)
        self.controller = Controller("clusterrole-aggregation", self.reconcile, workers=1)
        self.roles.add_handler(self._on_role)

    def _on_role(self, event: str, old: Obj | None, new: Obj | None) -> None:
        for role in self.roles.list():
            if role.get("aggregationRule"):
                self.controller.enqueue(role["metadata"]["name"])

    async def reconcile(self, name: str) -> float | None:
        role = self.roles.get(name)
        if role is None or not role.get("aggregationRule"):
            return None
        rules = aggregated_rules(role, self.roles.list())
        if (role.get("rules") or []) == rules:
            return None
        new = copy.deepcopy(role)
        new["rules"] = rules
        try:
            await self.client.update(CLUSTERROLES, new)
        except ApiError as e:
            if e.code in (404, 409):  # gone, or changed under us: the event re-queues it
                return None
            raise
        return None
