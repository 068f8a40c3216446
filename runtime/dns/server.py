"""kapi's cluster DNS: a small authoritative server for the cluster domain over UDP and
TCP (dnspython for the wire format), answering from Service and EndpointSlice informer
caches through records.lookup(); names outside the domain go to the host's resolver
library (getaddrinfo: /etc/hosts, then the host's own resolvers), A and AAAA only.

On start it publishes itself as upstream's add-on does: the `kube-dns` Service in
kube-system (the service CIDR's tenth address, ports 53/UDP and 53/TCP) with
hand-written Endpoints at the address and port it listens on, so `kapi proxy` carries
the ClusterIP to it. It binds only the address it is given (the pods' bridge gateway,
or loopback): it never listens on the outside.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from dataclasses import dataclass
from typing import Any, cast

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from runtime.client.informer import InformerFactory
from runtime.client.resources import ENDPOINTS, ENDPOINTSLICES, SERVICES
from runtime.client.rest import ApiError, Client
from runtime.dns import records
from runtime.util.meta import labels_of, meta

log = logging.getLogger(__name__)

Obj = dict[str, Any]
BY_SERVICE = "by-service"
MAX_KEPT = 10_000  # answers kept (then all are dropped and the count starts again)


@dataclass(frozen=True)
class DNSOptions:
    address: str = ""  # "": Docker's bridge gateway (what pods reach), else 127.0.0.1
    port: int = 0  # 0: a free one
    domain: str = "cluster.local"
    forward: bool = True  # names outside the domain: the host's resolver library
    publish: bool = True  # write the kube-dns Service and Endpoints


class Resolver:
    """Queries in, responses out (wire format); the one place records become DNS.

    Answers from the cluster's own names are kept, by the query's bytes after its ID,
    until forget() (called on every Service or EndpointSlice event): a repeated query
    then costs a dict lookup instead of parsing and rendering (the bulk of the time)."""

    def __init__(self, view: records.View, *, forward: bool) -> None:
        self.view, self.forward = view, forward
        self._answers: dict[bytes, bytes] = {}  # query[2:] -> answer[2:]

    def forget(self) -> None:
        self._answers.clear()

    def known(self, wire: bytes) -> bytes | None:
        """The kept answer to this query, with the asker's ID; None if none is kept."""
        kept = self._answers.get(wire[2:]) if len(wire) > 12 else None
        return None if kept is None else wire[:2] + kept

    async def respond(self, wire: bytes) -> bytes | None:
        known = self.known(wire)
        if known is not None:
            return known
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None  # not DNS: no answer at all
        response = dns.message.make_response(query)
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return bytes(response.to_wire())
        q = query.question[0]
        qtype = dns.rdatatype.to_text(q.rdtype)
        rcode, found = records.lookup(self.view, q.name.to_text(), qtype)
        ours = rcode != records.NOTZONE
        if ours:
            response.flags |= dns.flags.AA
        else:
            rcode, found = await self._forward(q.name.to_text(), qtype)
        response.set_rcode(dns.rcode.NXDOMAIN if rcode == records.NXDOMAIN else
                           dns.rcode.REFUSED if rcode == records.NOTZONE else dns.rcode.NOERROR)
        for name, rtype, ttl, data in found:
            response.answer.append(dns.rrset.from_text(name if name.endswith(".") else
                                                       name + ".", ttl, "IN", rtype, data))
        out = bytes(response.to_wire(max_size=65535 if len(wire) > 512 else 512))
        if ours:  # the host resolver's answers may change under us: never kept
            if len(self._answers) >= MAX_KEPT:
                self._answers.clear()
            self._answers[wire[2:]] = out[2:]
        return out

    async def _forward(self, name: str, qtype: str) -> tuple[str, list[records.Record]]:
        if not self.forward or qtype not in ("A", "AAAA"):
            return records.NOTZONE, []
        family = socket.AF_INET if qtype == "A" else socket.AF_INET6
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                name.rstrip("."), None, family=family, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            return records.NXDOMAIN, []
        ips = sorted({str(i[4][0]) for i in infos})
        return records.NOERROR, [(name, qtype, 30, ip) for ip in ips]


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: set[asyncio.Future[None]] = set()  # answers in flight (kept alive)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport is not a subclass of asyncio's, only alike
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        known = self.resolver.known(data)
        if known is not None and len(known) <= 512 and self.transport is not None:
            self.transport.sendto(known, addr)  # at once: no task, no wait for a turn
            return
        task = asyncio.ensure_future(self._answer(data, addr))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        out = await self.resolver.respond(data)
        if out is not None and self.transport is not None:
            if len(out) > 512:  # too big for plain UDP: truncated, the client asks by TCP
                msg = dns.message.from_wire(out)
                msg.answer.clear()
                msg.flags |= dns.flags.TC
                out = bytes(msg.to_wire())
            self.transport.sendto(out, addr)


async def _tcp(resolver: Resolver, reader: asyncio.StreamReader,
               writer: asyncio.StreamWriter) -> None:
    try:
        for _ in range(100):  # bounded: a few queries per connection
            size = struct.unpack("!H", await reader.readexactly(2))[0]
            out = await resolver.respond(await reader.readexactly(size))
            if out is None:
                break
            writer.write(struct.pack("!H", len(out)) + out)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def bridge_gateway() -> str:
    """The address pods reach the host at (Docker's default bridge), or loopback."""
    try:
        import docker
        client = docker.from_env(timeout=5)
        try:
            net = client.api.inspect_network("bridge")
        finally:
            client.close()
        config = ((net.get("IPAM") or {}).get("Config") or [{}])[0]
        return str(config.get("Gateway") or "127.0.0.1")
    except Exception:  # no engine: only the host's own clients
        return "127.0.0.1"


def _slice_key(s: Obj) -> list[str]:
    name = labels_of(s).get("kubernetes.io/service-name")
    return [f"{meta(s).get('namespace')}/{name}"] if name else []


async def serve_dns(client: Client, options: DNSOptions,
                    started: asyncio.Future[tuple[str, int]] | None = None) -> None:
    """Serve until cancelled; `started` gets the (address, port) bound."""
    informers = InformerFactory(client)
    services, slices = informers.get(SERVICES), informers.get(ENDPOINTSLICES)
    slices.add_index(BY_SERVICE, _slice_key)
    view = records.View(service=services.get,
                        slices=lambda key: slices.by_index(BY_SERVICE, key),
                        domain=options.domain)
    resolver = Resolver(view, forward=options.forward)
    for informer in (services, slices):
        informer.add_handler(lambda *_: resolver.forget())
    loop = asyncio.get_running_loop()
    address = options.address or await asyncio.to_thread(bridge_gateway)
    tcp = await asyncio.start_server(lambda r, w: _tcp(resolver, r, w), address, options.port)
    port = tcp.sockets[0].getsockname()[1]
    udp, _ = await loop.create_datagram_endpoint(lambda: _UDP(resolver),
                                                 local_addr=(address, port))
    informers.start()
    try:
        await informers.wait_synced()
        if options.publish:
            await publish(client, address, port)
        if started is not None and not started.done():
            started.set_result((address, port))
        await asyncio.Event().wait()
    finally:
        udp.close()
        tcp.close()
        await informers.stop()


async def publish(client: Client, address: str, port: int) -> None:
    """The kube-dns Service (its ClusterIP the allocator's tenth address) and Endpoints
    pointing at this server; an existing Service keeps its ClusterIP."""
    ports = [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": port},
             {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": port}]
    labels = {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS",
              "kubernetes.io/cluster-service": "true"}
    try:
        svc = await client.get(SERVICES, "kube-dns", "kube-system")
        if svc["spec"].get("ports") != ports:
            svc["spec"]["ports"] = ports
            await client.update(SERVICES, svc)
    except ApiError as e:
        if not e.not_found:
            raise
        await client.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {
            "name": "kube-dns", "labels": labels}, "spec": {"ports": ports}}, "kube-system")
    endpoints = {"apiVersion": "v1", "kind": "Endpoints",
                 "metadata": {"name": "kube-dns", "namespace": "kube-system",
                              "labels": labels},
                 "subsets": [{"addresses": [{"ip": address}], "ports": [
                     {"name": p["name"], "port": port, "protocol": p["protocol"]}
                     for p in ports]}]}
    await client.update(ENDPOINTS, endpoints)  # PUT creates Endpoints, as upstream
