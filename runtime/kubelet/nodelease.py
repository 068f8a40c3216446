"""A node's heartbeat Lease in kube-node-lease, renewed: the one write both the Docker
kubelet and the simulated nodes make each heartbeat. Owns only that write; the Lease
document is simnode's, the clock the caller's (it passes `now`)."""

from __future__ import annotations

from typing import Any

from runtime.client.resources import LEASES
from runtime.client.rest import ApiError, Client
from runtime.kubelet import simnode

Obj = dict[str, Any]


async def renew(client: Client, lease: Obj | None, name: str, node_uid: str, duration: int,
                now: str) -> Obj:
    """The node's Lease as written with renewTime `now`: an update of the one last
    written; where there is none yet, or it conflicted or went away, a new one, or
    (one exists) the existing one taken over."""
    if lease is not None:
        lease["spec"]["renewTime"] = now
        lease["spec"]["holderIdentity"] = name
        try:
            return await client.update(LEASES, lease)
        except ApiError as e:
            if not (e.conflict or e.not_found):
                raise
    doc = simnode.lease_document(name, node_uid, duration, now)
    try:
        return await client.create(LEASES, doc)
    except ApiError as e:
        if not e.already_exists:
            raise
    current = await client.get(LEASES, name, "kube-node-lease")
    current["spec"] = doc["spec"]
    return await client.update(LEASES, current)
