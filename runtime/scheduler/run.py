"""Entry point of the scheduler component: `run_scheduler(client, leader_elect=True)`.

With leader election only the holder of the Lease kube-system/kube-scheduler schedules;
the others wait (and take over once the lease expires). Called by `kapi up` and
`kapi scheduler`; it owns nothing but that wiring.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from typing import Any

from runtime.client.leaderelection import LeaderElector
from runtime.client.rest import Client
from runtime.scheduler.scheduler import Scheduler

log = logging.getLogger(__name__)

LEASE_NAME = "kube-scheduler"
LEASE_NAMESPACE = "kube-system"


def new_identity() -> str:
    """hostname_uuid, as upstream's leader election identity."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


async def run_scheduler(client: Client, *, leader_elect: bool = True,
                        identity: str | None = None, **options: Any) -> None:
    """Schedule pods until cancelled; `options` go to Scheduler (e.g. bind_concurrency)."""
    ident = identity or new_identity()

    async def lead() -> None:
        while True:  # a crash restarts the scheduler with fresh caches, loudly
            try:
                await Scheduler(client, identity=ident, **options).run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler %s crashed; restarting", ident)
                await asyncio.sleep(1.0)

    if not leader_elect:
        await lead()
        return
    log.info("scheduler %s: waiting to become leader of %s/%s", ident, LEASE_NAMESPACE,
             LEASE_NAME)
    await LeaderElector(client, name=LEASE_NAME, namespace=LEASE_NAMESPACE,
                        identity=ident).run(lead)
