"""PersistentVolumeClaim volumes of a pod on a Docker-backed node: each claim the pod
names, read from the API with its bound PersistentVolume, becomes the host directory
that volume points at (hostPath or local; runtime/controllers/localpath provisions such
volumes under this kubelet's root, which the node publishes in ROOT_ANNOTATION).

A claim that is missing, not bound yet, or bound to a volume of another kind is a
MountError with upstream's message, and the pod waits (FailedMount, retried). It only
reads the API (the node authorizer lets a node get the claims its pods name and their
volumes); the directories are made by runtime/kubelet/podvolumes.py.
"""

from __future__ import annotations

from typing import Any

from runtime.client.resources import PVCS, PVS
from runtime.client.rest import ApiError, Client
from runtime.kubelet.volumes import MountError

Obj = dict[str, Any]
ROOT_ANNOTATION = "kapi.dev/kubelet-root-dir"  # read by runtime/controllers/localpath


def claim_names(pod: Obj) -> list[str]:
    return [v["persistentVolumeClaim"].get("claimName", "")
            for v in (pod.get("spec") or {}).get("volumes") or []
            if v.get("persistentVolumeClaim")]


async def claim_paths(client: Client, pod: Obj) -> dict[str, str]:
    """claim name -> the host directory of its bound volume."""
    ns = pod["metadata"].get("namespace", "")
    out: dict[str, str] = {}
    for name in claim_names(pod):
        try:
            claim = await client.get(PVCS, name, ns)
            volume_name = (claim.get("spec") or {}).get("volumeName") or ""
            phase = (claim.get("status") or {}).get("phase") or ""
            if phase != "Bound" or not volume_name:
                raise MountError(f"PVC {ns}/{name} has non-bound phase ({phase!r}) or empty "
                                 f"pvc.Spec.VolumeName ({volume_name!r})")
            pv = await client.get(PVS, volume_name)
        except ApiError as e:
            raise MountError(f"error processing PVC {ns}/{name}: {e}") from None
        spec = pv.get("spec") or {}
        source = spec.get("hostPath") or spec.get("local")
        if not source or not source.get("path"):
            raise MountError(f"PersistentVolume {volume_name!r} of claim {ns}/{name} is "
                             "neither hostPath nor local: this node cannot mount it")
        out[name] = str(source["path"])
    return out
