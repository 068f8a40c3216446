"""Protocol upgrades other than WebSocket (and WebSocket to the proxy subresources),
for Hypercorn's HTTP/1.1 connections.

kubectl before 1.30 asks for `Upgrade: SPDY/3.1` on exec/attach/port-forward, and ASGI
has no generic upgrade. This adds one, as small as it can be: a request that asks for an
upgrade Hypercorn does not know gets an `UpgradeStream` and the scope extension
`kapi.upgrade`. The application then answers as usual (the request has no body: one empty
`http.request` message comes first): any status but 101 is an ordinary
response (so errors are the same Status a plain request gets) and the connection closes
after it; 101 switches the connection, after which the application's `http.request`
messages carry the client's raw bytes (`more_body` stays true; `http.disconnect` when the
client goes) and its `http.response.body` messages go out raw (`more_body` false closes
the connection).

It owns only that switch; the protocol spoken after it belongs to the application.
"""

from __future__ import annotations

from typing import Any

from hypercorn.protocol.events import Data, Event, Request, Response, StreamClosed
from hypercorn.protocol.http_stream import HTTPStream

EXTENSION = "kapi.upgrade"


def relayed(target: bytes) -> bool:
    """A pod's or service's `proxy` subresource: upgrades there, WebSocket included, are
    relayed byte for byte to the target (kapi/endpoints/proxytunnel.py), not spoken."""
    parts = target.split(b"?", 1)[0].split(b"/", 8)
    return len(parts) >= 8 and parts[1:4] == [b"api", b"v1", b"namespaces"] and \
        parts[5] in (b"pods", b"services") and parts[7] == b"proxy"


def wants_upgrade(headers: Any, target: bytes = b"") -> bool:
    """A request without a body asking for an upgrade to something other than h2c, and
    other than websocket unless `target` is relayed() (a request with a body is served
    as plain HTTP/1.1)."""
    upgrade, connection, body = "", "", False
    for name, value in headers:
        lname = name.lower()
        if lname == b"upgrade":
            upgrade = value.decode("latin-1").strip().lower()
        elif lname == b"connection":
            connection = value.decode("latin-1").lower()
        elif lname == b"transfer-encoding" or (lname == b"content-length"
                                               and value.strip() != b"0"):
            body = True
    tokens = {t.strip() for t in connection.split(",")}
    if upgrade == "websocket" and not relayed(target):
        return False  # Hypercorn's own WebSocket handling (exec, attach, port-forward)
    return "upgrade" in tokens and upgrade not in ("", "h2c") and not body


class UpgradeStream(HTTPStream):
    """An HTTP stream whose application may answer 101 and then own the connection's bytes.

    The connection hands every byte after the request head over as `Data` events (see
    kapi/http1.py), which become `http.request` messages."""

    upgraded = False
    _done = False

    async def handle(self, event: Event) -> None:
        if isinstance(event, Data):
            if not self.closed:
                await self.app_put({"type": "http.request", "body": bytes(event.data),
                                    "more_body": True})
            return
        await super().handle(event)
        if isinstance(event, Request) and not self.closed:
            # the application's task has not run yet: it sees the extension
            self.scope["extensions"][EXTENSION] = {}
            # the (empty) request body ends here, for an application that reads it
            await self.app_put({"type": "http.request", "body": b"", "more_body": False})

    async def app_send(self, message: Any) -> None:
        if message is not None and message["type"] == "http.response.start" \
                and int(message["status"]) == 101 and not self.upgraded:
            self.upgraded = True
            await self.send(Response(stream_id=self.stream_id, status_code=101,
                                     headers=[(bytes(k), bytes(v))
                                              for k, v in message.get("headers", [])]))
            return
        if self.upgraded:
            if self.closed or self._done:  # the client went, or the application closed
                return
            if message is not None and message["type"] == "http.response.body":
                if message.get("body"):
                    await self.send(Data(stream_id=self.stream_id,
                                         data=bytes(message["body"])))
                if message.get("more_body", False):
                    return
            self._done = True
            await self.send(StreamClosed(stream_id=self.stream_id))
            return
        await super().app_send(message)
