"""pods/{name}/eviction: a delete that respects PodDisruptionBudgets.

As upstream's eviction REST: a pod covered by a PDB whose status allows no disruption
gets 429 TooManyRequests; otherwise the budget's disruptionsAllowed is decremented (and
the pod recorded in disruptedPods) and the pod is deleted with the eviction's
DeleteOptions. Pods that are already terminal are deleted without consulting budgets.
"""

from __future__ import annotations

import copy
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
    await store.delete(pods, namespace, name, opts)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "code": 201}


async def _consume_budget(store: Store, pdbs: Resource, pdb: Obj, pod_name: str, now: str) -> None:
    meta = pdb["metadata"]

    async def take(cur: Obj | None) -> Obj:
        if cur is None:
            raise errors.NotFound.of(pdbs, meta["name"])
        status = cur.get("status") or {}
        if status.get("observedGeneration", 0) < cur["metadata"].get("generation", 1) or \
                int(status.get("disruptionsAllowed", 0)) < 1:
            raise errors.TooManyRequests(
                "Cannot evict pod as it would violate the pod's disruption budget.",
                details={"causes": [{"reason": "DisruptionBudget",
                                     "message": f"The disruption budget {meta['name']} needs "
                                                f"{status.get('desiredHealthy', 0)} healthy pods "
                                                f"and has {status.get('currentHealthy', 0)} "
                                                "currently"}]})
        new = copy.deepcopy(cur)
        st = new.setdefault("status", {})
        st["disruptionsAllowed"] = int(st.get("disruptionsAllowed", 0)) - 1
        st.setdefault("disruptedPods", {})[pod_name] = now
        return new

    await store.guaranteed_update(pdbs, meta["namespace"], meta["name"], take,
                                  subresource="status")


def delete_options_of(eviction: Obj) -> Obj | None:
    opts = eviction.get("deleteOptions")
    return opts if isinstance(opts, dict) else None

