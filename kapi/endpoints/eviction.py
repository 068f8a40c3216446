"""pods/{name}/eviction: a delete that respects PodDisruptionBudgets.

As upstream's eviction REST: a pod covered by a PDB whose status allows no disruption
gets 429 TooManyRequests; otherwise the budget's disruptionsAllowed is decremented (and
the pod recorded in disruptedPods) and the pod is deleted with the eviction's
DeleteOptions. Pods that are already terminal are deleted without consulting budgets.
Before the delete, the pod gets the DisruptionTarget condition (EvictionByEvictionAPI).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from kapi import errors
from kapi.meta.resources import Resource, Scheme
from kapi.meta.selectors import label_selector_from_dict
from kapi.registry.store import DeleteOptions, ListOptions, Store

Obj = dict[str, Any]


async def evict(store: Store, scheme: Scheme, pods: Resource, namespace: str, name: str,
                eviction: Obj, opts: DeleteOptions, now: str) -> Obj:
    pod = await store.get(pods, namespace, name)
    phase = (pod.get("status") or {}).get("phase")
    if phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp"):
        pdbs = scheme.get("policy", "v1", "poddisruptionbudgets")
        assert pdbs is not None
        for pdb in (await store.list(pdbs, namespace, ListOptions()))["items"]:
            sel = (pdb.get("spec") or {}).get("selector")
            if sel is None or not label_selector_from_dict(sel).matches(
                    pod["metadata"].get("labels")):
                continue
            await _consume_budget(store, pdbs, pdb, name, now)
    if not opts.dry_run:
        opts = await _mark_disruption_target(store, pods, namespace, name, opts, now)
    await store.delete(pods, namespace, name, opts)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "code": 201}


DISRUPTION_TARGET = {"type": "DisruptionTarget", "status": "True",
                     "reason": "EvictionByEvictionAPI", "message": "Eviction API: evicting"}


async def _mark_disruption_target(store: Store, pods: Resource, namespace: str, name: str,
                                  opts: DeleteOptions, now: str) -> DeleteOptions:
    """Before deleting, record why on the pod (upstream's addConditionAndDeletePod): the
    DisruptionTarget condition, written to the latest pod under the eviction's
    preconditions; a resourceVersion precondition then follows the write."""
    async def add(cur: Obj | None) -> Obj:
        if cur is None:
            raise errors.NotFound.of(pods, name)
        store.check_preconditions(pods, name, cur, opts.preconditions)
        new = copy.deepcopy(cur)
        conds = new.setdefault("status", {}).setdefault("conditions", [])
        old = next((c for c in conds if c.get("type") == "DisruptionTarget"), None)
        if old is None:
            conds.append(dict(DISRUPTION_TARGET, lastTransitionTime=now))
        else:
            changed = old.get("status") != "True"
            old.update(DISRUPTION_TARGET)
            if changed:
                old["lastTransitionTime"] = now
        return new

    updated, _ = await store.guaranteed_update(pods, namespace, name, add, subresource="status")
    if opts.preconditions.get("resourceVersion"):
        opts = dataclasses.replace(opts, preconditions={
            **opts.preconditions, "resourceVersion": updated["metadata"]["resourceVersion"]})
    return opts


async def _consume_budget(store: Store, pdbs: Resource, pdb: Obj, pod_name: str, now: str) -> None:
    meta = pdb["metadata"]

    async def take(cur: Obj | None) -> Obj:
        if cur is None:
            raise errors.NotFound.of(pdbs, meta["name"])
        refuse_if_budget_spent(meta["name"], cur)
        new = copy.deepcopy(cur)
        st = new.setdefault("status", {})
        st["disruptionsAllowed"] = int(st.get("disruptionsAllowed", 0)) - 1
        st.setdefault("disruptedPods", {})[pod_name] = now
        return new

    await store.guaranteed_update(pdbs, meta["namespace"], meta["name"], take,
                                  subresource="status")


MAX_DISRUPTED_PODS = 2000  # upstream's MaxDisruptedPodSize
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


def refuse_if_budget_spent(name: str, pdb: Obj) -> None:
    """Upstream's checkAndDecrement refusals, in its order: a budget the disruption
    controller has not caught up with (429, retry after 10 s), a negative allowance or
    too many unconfirmed evictions (403), no disruption allowed (429)."""
    status = pdb.get("status") or {}
    if status.get("observedGeneration", 0) < pdb["metadata"].get("generation", 1):
        raise errors.TooManyRequests(VIOLATION, details={"retryAfterSeconds": 10, "causes": [
            {"reason": "DisruptionBudget", "message":
             f"The disruption budget {name} is still being processed by the server."}]})
    allowed = int(status.get("disruptionsAllowed", 0))
    forbidden = ("pdb disruptions allowed is negative" if allowed < 0 else
                 "DisruptedPods map too big - too many evictions not confirmed by PDB "
                 "controller" if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS
                 else None)
    if forbidden:
        raise errors.Forbidden(f'poddisruptionbudgets.policy "{name}" is forbidden: {forbidden}',
                               details={"name": name, "group": "policy",
                                        "kind": "poddisruptionbudgets"})
    if allowed == 0:
        raise errors.TooManyRequests(VIOLATION, details={"causes": [
            {"reason": "DisruptionBudget", "message":
             f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} healthy "
             f"pods and has {status.get('currentHealthy', 0)} currently"}]})


def delete_options_of(eviction: Obj) -> Obj | None:
    opts = eviction.get("deleteOptions")
    return opts if isinstance(opts, dict) else None

