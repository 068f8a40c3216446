"""`kapi proxy`: watches Services and EndpointSlices over the API and keeps the host's
rules equal to rules.build() of what it sees, re-synced after every change (batched:
one iptables-restore for all changes that arrived meanwhile) and on start; on stop it
removes what it wrote.

An API client only; the host programming is hostnet.py's, the rules rules.py's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from runtime.client.informer import InformerFactory
from runtime.client.resources import ENDPOINTSLICES, NAMESPACES, SERVICES
from runtime.client.rest import Client
from runtime.proxy import rules
from runtime.proxy.hairpin import Hairpin
from runtime.proxy.healthcheck import HealthServers
from runtime.proxy.hostnet import HostNetwork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProxyOptions:
    service_cidr: str = "10.96.0.0/12"
    pod_cidr: str = ""  # "" = Docker's default bridge subnet
    bridge: str = "docker0"
    node_names: tuple[str, ...] = ()
    min_sync_interval: float = 0.05  # seconds between two syncs (batches bursts)
    full_sync_interval: float = 60.0  # every so often all rules are rewritten
    # where healthCheckNodePorts listen; (): loopback and the bridge's gateway
    health_addresses: tuple[str, ...] = ()
    on_synced: Callable[[float], None] | None = field(default=None, compare=False)


def bridge_ipam() -> dict[str, Any]:
    """Docker's default bridge: its Subnet (the pods) and Gateway (the node's address)."""
    import docker
    try:
        client = docker.from_env(timeout=10)
        try:
            net = client.api.inspect_network("bridge")
        finally:
            client.close()
    except docker.errors.DockerException:  # no engine: the defaults
        return {}
    return dict(((net.get("IPAM") or {}).get("Config") or [{}])[0])


class Proxier:
    def __init__(self, client: Client, options: ProxyOptions, cluster_uid: str) -> None:
        self.client, self.options = client, options
        bridge = bridge_ipam() if not options.pod_cidr or not options.health_addresses else {}
        self.config = rules.ProxyConfig(
            cluster_id=cluster_uid.replace("-", "")[:6], service_cidr=options.service_cidr,
            pod_cidr=options.pod_cidr or bridge.get("Subnet") or "172.17.0.0/16",
            node_names=frozenset(options.node_names))
        self.health = HealthServers(options.health_addresses or tuple(
            {"127.0.0.1", bridge.get("Gateway") or "127.0.0.1"}))
        self.host = HostNetwork(self.config, bridge=options.bridge)
        self.hairpin = Hairpin(cluster_uid)
        self.informers = InformerFactory(client)
        self.services = self.informers.get(SERVICES)
        self.slices = self.informers.get(ENDPOINTSLICES)
        self.dirty = asyncio.Event()
        self.syncs = 0
        for inf in (self.services, self.slices):
            inf.add_handler(lambda *_: self.dirty.set())

    def sync_now(self) -> None:
        chains = rules.build(self.config, self.services.list(), self.slices.list())
        self.host.sync(chains)
        self.hairpin.sync()
        self.syncs += 1

    async def run(self) -> None:
        await asyncio.to_thread(self.host.refuse_cidr)
        self.informers.start()
        try:
            await self.informers.wait_synced()
            while True:
                self.dirty.clear()
                started = time.monotonic()
                await asyncio.to_thread(self.sync_now)
                await self.health.sync(rules.health_checks(
                    self.config, self.services.list(), self.slices.list()))
                if self.options.on_synced is not None:
                    self.options.on_synced(time.monotonic() - started)
                await asyncio.sleep(self.options.min_sync_interval)
                try:
                    await asyncio.wait_for(self.dirty.wait(), self.options.full_sync_interval)
                except TimeoutError:
                    self.host.full_resync()
        finally:
            await self.health.close()
            await self.informers.stop()
            await asyncio.shield(asyncio.to_thread(self._cleanup))

    def _cleanup(self) -> None:
        self.host.cleanup()
        self.hairpin.close()


async def run_proxy(client: Client, options: ProxyOptions) -> None:
    """Run until cancelled; the rules are removed on the way out."""
    cluster = (await client.get(NAMESPACES, "kube-system"))["metadata"]["uid"]
    await Proxier(client, options, cluster).run()


def iptables_usable() -> str | None:
    """None when this process can program iptables, else why not."""
    import os
    import shutil
    if os.geteuid() != 0:
        return "not running as root"
    for tool in ("iptables", "iptables-restore", "iptables-save", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


__all__: list[Any] = ["ProxyOptions", "Proxier", "run_proxy", "iptables_usable"]
