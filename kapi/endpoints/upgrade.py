"""WebSocket upgrades that kapi does not stream: answered with the HTTP response a plain
request to the same URL gets (the 404 Status of a subresource that does not exist, a 405,
a 400 ...), through the ASGI WebSocket denial-response extension.

Without this, Starlette closes an unrouted WebSocket before accepting it and the server
answers `403` with an empty body, which every client reports as an authorization
failure. Routes that really stream over WebSockets are registered before this catch-all
and never reach it. Owns only that answer; never accepts a WebSocket.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.websockets import WebSocket

from kapi import errors

Handle = Callable[[Request], Awaitable[Response]]


def denial_endpoint(handle: Handle,
                    render: Callable[[errors.APIError], Response]) -> Callable[[WebSocket], Awaitable[None]]:
    """An endpoint for a catch-all WebSocketRoute: `handle` serves the upgrade request as
    the plain GET it is; `render` turns an APIError into its Status response."""

    async def endpoint(ws: WebSocket) -> None:
        request = Request(dict(ws.scope, type="http", method="GET"), ws.receive)
        response = await handle(request)
        if isinstance(response, StreamingResponse):
            # a watch or a log stream: not served over a WebSocket here; say so plainly
            if hasattr(response.body_iterator, "aclose"):
                await response.body_iterator.aclose()
            response = render(errors.BadRequest(
                f"streaming {request.url.path} over a WebSocket is not supported; "
                "send the request without an Upgrade header"))
        await ws.send_denial_response(response)

    return endpoint
