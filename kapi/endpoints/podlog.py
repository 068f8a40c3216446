"""pods/{name}/log: the container's output, forwarded from the kubelet of the pod's node.

As upstream's pod log REST: the container is checked against the pod spec (and chosen
when the pod has one container), the node's address (InternalIP, else the first address)
and kubelet port come from the Node object in storage, and the request goes to the
kubelet's `/containerLogs/{namespace}/{pod}/{container}` with the same query; its output
is streamed back as text/plain. A pod not yet bound to a node has no logs (empty body).
This module never reads containers itself and knows nothing of Docker.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Mapping

import httpx

from kapi import errors
from kapi.endpoints.params import parse_bool, parse_int64

Obj = dict[str, Any]
FORWARDED = ("follow", "tailLines", "sinceSeconds", "sinceTime", "timestamps", "previous",
             "limitBytes", "insecureSkipTLSVerifyBackend")


_BOOLS = ("follow", "timestamps", "previous", "insecureSkipTLSVerifyBackend")
_INTS = ("tailLines", "sinceSeconds", "limitBytes")


def forwarded(query: Mapping[str, str]) -> dict[str, str]:
    """The PodLogOptions the kubelet gets, read as upstream decodes them (a boolean is
    false only for "0"/"false", integers are Go's) and sent on in canonical form."""
    out: dict[str, str] = {}
    for k in FORWARDED:
        v = query.get(k)
        if v is None:
            continue
        if k in _BOOLS:
            out[k] = "true" if parse_bool(v) else "false"
        elif k in _INTS:
            out[k] = str(parse_int64(v))
        elif v != "":
            out[k] = v
    return out


def container_name(pod: Obj, wanted: str | None) -> str:
    spec, name = pod.get("spec") or {}, pod["metadata"]["name"]
    apps = [c["name"] for c in spec.get("containers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    if not wanted:
        if len(apps) == 1:
            return apps[0]
        msg = f"a container name must be specified for pod {name}, choose one of: [{' '.join(apps)}]"
        if inits:
            msg += f" or one of the init containers: [{' '.join(inits)}]"
        raise errors.BadRequest(msg)
    if wanted not in apps and wanted not in inits:
        raise errors.BadRequest(f"container {wanted} is not valid for pod {name}")
    return wanted


def kubelet_url(node: Obj) -> str:
    status = node.get("status") or {}
    addresses = status.get("addresses") or []
    address = next((a["address"] for a in addresses if a.get("type") == "InternalIP"),
                   addresses[0]["address"] if addresses else "")
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    if not address or not port:
        raise errors.BadRequest(f'node "{node["metadata"]["name"]}" publishes no kubelet '
                                "endpoint")
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}"


async def open_log(pod: Obj, node: Obj, query: Mapping[str, str]
                   ) -> tuple[httpx.AsyncClient, httpx.Response]:
    """Open the kubelet's log stream; the caller streams it with `relay` (which closes)."""
    meta = pod["metadata"]
    container = container_name(pod, query.get("container"))
    params = forwarded(query)
    url = (f"{kubelet_url(node)}/containerLogs/{meta.get('namespace', '')}/{meta['name']}/"
           f"{container}")
    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None))
    try:
        response = await http.send(http.build_request("GET", url, params=params), stream=True)
    except httpx.HTTPError as e:
        await http.aclose()
        raise errors.InternalError(f"Get \"{url}\": {e}") from None
    if response.status_code >= 400:
        body = (await response.aread()).decode(errors="replace").strip()
        await response.aclose()
        await http.aclose()
        if response.status_code == 404:
            raise errors.NotFound(body, details={})
        raise errors.BadRequest(body)
    return http, response


async def relay(http: httpx.AsyncClient, response: httpx.Response) -> AsyncIterator[bytes]:
    """The streamed body of `response`, closing it and its client when done or dropped
    (the pod log and the Service/pod/node proxy relay their answers so)."""
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    finally:
        await response.aclose()
        await http.aclose()
