"""Plain-HTTP serving speaks HTTP/1.1 only: no h2c.

Hypercorn switches a cleartext connection to HTTP/2 when a client opens with the
HTTP/2 preface (prior knowledge) or asks with `Upgrade: h2c`. No client kapi serves
needs that: kubectl (Go's net/http), the official Python client (urllib3) and kapi's
own components (runtime/client, on its HTTP/1.1 transport) use HTTP/1.1 over plain
http, and HTTP/2 over TLS through ALPN, which this leaves alone. What h2c would add
is another protocol stack facing unauthenticated peers, so it is off: the upgrade
header is ignored (the request is answered in HTTP/1.1, as RFC 9110 allows) and the
preface gets 505 HTTP Version Not Supported and a closed connection.

Other upgrades (SPDY/3.1, which kubectl asks for on exec, attach and port-forward, and
any upgrade to a pod's or service's proxy subresource) are handed to kapi/upgrade.py,
which lets the application take the connection over.

It also gives every HTTP/1.1 status line its reason phrase (`HTTP/1.1 409 Conflict`),
which h11 leaves empty unless told and Go always writes (kapi/statustext.py).

Owns only those switches and the reason phrase; never changes how HTTP/1.1 or TLS
connections are served.
"""

from __future__ import annotations

from typing import Any

import h11
import hypercorn.protocol as hypercorn_protocol
from hypercorn.events import Closed
from hypercorn.protocol.events import Request
from hypercorn.protocol.h11 import STREAM_ID, H11Protocol, H11WSConnection
from hypercorn.typing import H11SendableEvent

from kapi.statustext import reason_phrase
from kapi.upgrade import UpgradeStream, wants_upgrade


class H11Only(H11Protocol):
    """Hypercorn's HTTP/1.1 protocol without its h2c switch."""

    async def _check_protocol(self, event: Any) -> None:
        return None  # neither `Upgrade: h2c` nor the preface switches protocols

    async def _create_stream(self, request: Any) -> None:
        if request.method == b"PRI" and request.target == b"*":
            # the HTTP/2 preface reaches no application: 505, and the connection closes
            await self._send_error_response(505)
            await self.send(Closed())
            return
        if wants_upgrade(request.headers, request.target):  # SPDY/3.1: kapi/upgrade.py
            await self._create_upgrade_stream(request)
            return
        await super()._create_stream(request)

    async def _create_upgrade_stream(self, request: Any) -> None:
        self.stream = UpgradeStream(self.app, self.config, self.context, self.task_group,
                                    self.ssl, self.client, self.server, self.stream_send,
                                    STREAM_ID)
        # every byte after the request head now reaches the stream as it is
        self.connection = H11WSConnection(self.connection)  # type: ignore[arg-type]
        await self.stream.handle(Request(
            stream_id=STREAM_ID, headers=list(request.headers), http_version=
            request.http_version.decode(), method=request.method.decode("ascii").upper(),
            raw_path=request.target, state=self.connection_state))
        self.keep_alive_requests += 1
        await self.context.mark_request()

    async def _send_h11_event(self, event: H11SendableEvent) -> None:
        # every response, error and upgrade answer passes here: add the reason phrase
        if isinstance(event, (h11.Response, h11.InformationalResponse)) and not event.reason:
            event = type(event)(status_code=event.status_code, headers=event.headers,
                                http_version=event.http_version,
                                reason=reason_phrase(event.status_code))
        await super()._send_h11_event(event)


def disable_h2c() -> None:
    """Make every Hypercorn connection in this process start (and stay) HTTP/1.1
    unless TLS negotiated h2. Idempotent."""
    hypercorn_protocol.H11Protocol = H11Only  # type: ignore[misc]
