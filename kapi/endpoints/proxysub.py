"""The `proxy` subresources of pods, services and nodes: an HTTP request to
/api/v1/namespaces/N/pods/[scheme:]NAME[:PORT]/proxy/PATH, .../services/... or
/api/v1/nodes/[scheme:]NAME[:PORT]/proxy/PATH is forwarded to the pod's IP, to one ready
endpoint of the Service, or to the node's kubelet, and the answer streamed back
(upstream's ResourceLocation of pods, services and nodes plus its proxy handler).

The target comes from storage only: a pod's podIP and container ports; a Service's
ports and its Endpoints' ready addresses (a random one); a Node's InternalIP and kubelet
endpoint port. Hop-by-hop headers and the
caller's credentials are not passed on. Nothing here opens a socket anywhere else.
"""

from __future__ import annotations

import random
from typing import Any, AsyncIterator, Mapping

import httpx

from kapi import errors
from kapi.endpoints.podlog import kubelet_url, relay

Obj = dict[str, Any]
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate",
                        "proxy-authorization", "te", "trailers", "transfer-encoding",
                        "upgrade", "host", "authorization", "content-length"})


def split_target(name: str) -> tuple[str, str, str]:
    """`[scheme:]name[:port]` -> (scheme, name, port), as upstream's SplitSchemeNamePort."""
    parts = name.split(":")
    if len(parts) == 1:
        return "", parts[0], ""
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3 and parts[0] in ("http", "https"):
        return parts[0], parts[1], parts[2]
    raise errors.BadRequest(f"invalid service request {name!r}")


def remainder(path: str, name: str) -> str:
    """What follows `/{name}/proxy` in the request path ('/' when nothing does)."""
    marker = f"/{name}/proxy"
    i = path.find(marker)
    rest = path[i + len(marker):] if i >= 0 else ""
    return rest if rest.startswith("/") else "/" + rest


def pod_location(pod: Obj, port: str) -> str:
    """host:port of a pod: the named or numbered port, else its first container port."""
    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        raise errors.BadRequest(f"address not allowed: pod {pod['metadata']['name']} has "
                                "no IP address yet")
    containers = (pod.get("spec") or {}).get("containers") or []
    declared = [p for c in containers for p in c.get("ports") or []]
    if port and not port.isdigit():
        found = [p["containerPort"] for p in declared if p.get("name") == port]
        if not found:
            raise errors.BadRequest(f"no such port {port!r} on pod {pod['metadata']['name']}")
        port = str(found[0])
    if not port and declared:
        port = str(declared[0]["containerPort"])
    return f"{ip}:{port}" if port else ip


def node_location(node: Obj, port: str) -> str:
    """host:port of a node's kubelet: its published endpoint, or the port asked for."""
    host_port = kubelet_url(node).removeprefix("http://")
    if not port:
        return host_port
    if not port.isdigit():
        raise errors.BadRequest(f"invalid port {port!r} for node {node['metadata']['name']}")
    return f"{host_port.rsplit(':', 1)[0]}:{port}"


def service_location(svc: Obj, endpoints: Obj | None, port: str,
                     rng: random.Random | None = None) -> str:
    """host:port of one ready endpoint behind the Service port named or numbered `port`."""
    name = svc["metadata"]["name"]
    ports = (svc.get("spec") or {}).get("ports") or []
    if port:
        wanted = [p for p in ports if p.get("name") == port or str(p.get("port")) == port]
    else:
        wanted = ports[:1] if len(ports) == 1 else [p for p in ports if not p.get("name")]
    if not wanted:
        raise errors.ServiceUnavailable(f'no service port "{port}" found for service "{name}"')
    port_name = wanted[0].get("name") or ""
    choices = []
    for subset in (endpoints or {}).get("subsets") or []:
        for ep_port in subset.get("ports") or []:
            if (ep_port.get("name") or "") == port_name:
                choices += [f"{a['ip']}:{ep_port['port']}" for a in subset.get("addresses") or []]
    if not choices:
        raise errors.ServiceUnavailable(f'no endpoints available for service "{name}"')
    return (rng or random).choice(sorted(choices))


async def forward(method: str, url: str, headers: Mapping[str, str], body: bytes
                  ) -> tuple[int, list[tuple[str, str]], AsyncIterator[bytes]]:
    """Send the request on; (status, headers, body stream) of the answer."""
    http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=None), verify=False)
    sent = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
    try:
        response = await http.send(http.build_request(method, url, headers=sent,
                                                      content=body or None), stream=True)
    except httpx.HTTPError as e:
        await http.aclose()
        raise errors.ServiceUnavailable(f"error trying to reach service: {e}") from None
    out = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in HOP_BY_HOP]
    return response.status_code, out, relay(http, response)
