"""Pod bookkeeping the workload controllers (StatefulSet, DaemonSet, Job) share:
indexing pods by their controller's UID, finding the owner key of a pod, claiming pods
(adopting matching orphans, releasing owned pods that no longer match, as upstream's
ClaimPods), and creating/deleting pods with upstream's PodControl events.

Talks to the API only through the REST client; never mutates cached objects (patches
are built from copies).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from runtime.client.events import EventRecorder
from runtime.client.informer import Informer
from runtime.client.resources import PODS
from runtime.client.rest import ApiError, Client
from runtime.controllers.base import controller_ref, owner_reference
from runtime.controllers.common.workloads import controller_uid, is_terminating, meta

log = logging.getLogger(__name__)

Obj = dict[str, Any]

OWNER_INDEX = "workloads.controller-uid"


def _by_controller(obj: Obj) -> list[str]:
    uid = controller_uid(obj)
    return [uid] if uid else []


def ensure_owner_index(informer: Informer) -> None:
    if OWNER_INDEX not in informer.indexers:
        informer.add_index(OWNER_INDEX, _by_controller)


def owned_by(informer: Informer, owner: Obj) -> list[Obj]:
    return informer.by_index(OWNER_INDEX, meta(owner).get("uid", ""))


def pod_key(pod: Obj) -> str:
    return f"{meta(pod).get('namespace')}/{meta(pod).get('name')}"


def owner_key(obj: Obj | None, kind: str) -> str | None:
    """namespace/name of obj's controller if that controller is a `kind`."""
    if obj is None:
        return None
    ref = controller_ref(obj)
    if not ref or ref.get("kind") != kind:
        return None
    return f"{meta(obj).get('namespace')}/{ref.get('name')}"


async def claim_pods(client: Client, owner: Obj, pods: Informer,
                     wants: Callable[[Obj], bool]) -> list[Obj]:
    """owner's pods: owned ones that still match, plus matching orphans it adopts."""
    uid = meta(owner)["uid"]
    out = []
    for p in owned_by(pods, owner):
        if wants(p):
            out.append(p)
        elif not is_terminating(p):
            await _set_owner_refs(client, p, [r for r in meta(p).get("ownerReferences") or []
                                             if r.get("uid") != uid])
    if meta(owner).get("deletionTimestamp"):
        return out
    for p in pods.list(meta(owner).get("namespace")):
        if controller_ref(p) is None and not is_terminating(p) and wants(p):
            refs = list(meta(p).get("ownerReferences") or []) + [owner_reference(owner)]
            adopted = await _set_owner_refs(client, p, refs)
            if adopted is not None:
                out.append(adopted)
    return out


async def _set_owner_refs(client: Client, pod: Obj, refs: list[Obj]) -> Obj | None:
    patch = {"metadata": {"ownerReferences": refs,
                          "resourceVersion": meta(pod).get("resourceVersion")}}
    try:
        return await client.patch(PODS, meta(pod)["name"], patch, meta(pod).get("namespace"))
    except ApiError as e:
        if e.not_found or e.conflict:
            return None  # gone or changed: the next reconcile sees the truth
        raise


def namespace_terminating(e: ApiError) -> bool:
    """The create failed because the namespace is being deleted (nothing to retry)."""
    causes = (e.status.get("details") or {}).get("causes") or []
    return e.code == 403 and (any(c.get("type") == "NamespaceTerminating" for c in causes)
                              or "being terminated" in e.message)


async def create_pod(client: Client, recorder: EventRecorder, owner: Obj, pod: Obj) -> Obj | None:
    """Create with upstream PodControl events; None if the namespace is going away."""
    ns = meta(owner).get("namespace")
    try:
        created = await client.create(PODS, pod, ns)
    except ApiError as e:
        if namespace_terminating(e):
            return None
        await recorder.warning(owner, "FailedCreate", f"Error creating: {e.message}")
        raise
    await recorder.normal(owner, "SuccessfulCreate", f"Created pod: {meta(created)['name']}")
    return created


async def delete_pod(client: Client, recorder: EventRecorder, owner: Obj, pod: Obj) -> None:
    try:
        await client.delete(PODS, meta(pod)["name"], meta(pod).get("namespace"))
    except ApiError as e:
        if e.not_found:
            return
        await recorder.warning(owner, "FailedDelete", f"Error deleting: {e.message}")
        raise
    await recorder.normal(owner, "SuccessfulDelete", f"Deleted pod: {meta(pod)['name']}")
