"""Request bodies in: read under the size cap, decoded off the event loop when heavy.

Owns the two rules that keep one request from stalling every other one:

- the 3 MiB cap is enforced before the bytes arrive, not after: a Content-Length past it
  is refused unread, and a streamed body is refused as soon as it passes it, so a 100 MB
  upload costs one read buffer (413 RequestEntityTooLarge, as upstream);
- decoding and the strict-decoding walk of a large body (or of any YAML body, whose
  composing is slow and whose aliases multiply work) run in a worker thread, so health
  checks, watches and the in-process components keep being served meanwhile.

Must never: pick HTTP codes (errors.py does) or touch the store.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.requests import ClientDisconnect, Request

from kapi import errors
from kapi.endpoints import codec

if TYPE_CHECKING:
    from kapi.endpoints.fieldvalidation import FieldValidation
    from kapi.endpoints.handlers import Call

# Bodies above this many bytes are decoded in a worker thread: orjson decodes 256 KiB in
# well under a millisecond, so only larger ones are worth the thread hop.
THREAD_BYTES = 256 * 1024
# What is left of a refused request's body that is read and dropped (Go's server's figure)
DRAIN_BYTES = 256 * 1024


def too_large() -> errors.RequestEntityTooLarge:
    return errors.RequestEntityTooLarge(f"Request entity too large: limit is {codec.MAX_BODY_BYTES}")


async def read_body(request: Request, limit: int = codec.MAX_BODY_BYTES) -> bytes:
    """The whole body, or RequestEntityTooLarge as soon as it is known to pass `limit`
    (whatever is left unread stays with the client: the server closes the connection)."""
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise errors.BadRequest(f"invalid Content-Length: {length!r}") from None
        if declared > limit:
            raise too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


async def drain(request: Request) -> None:
    """Read and drop the unread body of a request refused before it was read (a 401 or
    403), up to DRAIN_BYTES, as Go's server does: an HTTP/1.1 connection answered with
    its request body unread is closed by the server, and the request the client sent
    next on it is lost ("server disconnected without sending a response")."""
    length = request.headers.get("content-length")
    if length is None and "transfer-encoding" not in request.headers:
        return
    if length is not None and (not length.isdigit() or not 0 < int(length) <= DRAIN_BYTES):
        return
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > DRAIN_BYTES:
                return
    except (RuntimeError, ClientDisconnect):  # read already, or the client went
        pass


def heavy(raw: bytes, content_type: str | None) -> bool:
    """Whether decoding raw may take long enough to be felt by other requests."""
    return len(raw) > THREAD_BYTES or (codec.is_yaml(content_type) and len(raw) > 512)


async def decode_checked(fields: FieldValidation, call: Call, directive: str, *,
                         check: bool = True) -> dict[str, Any]:
    """The request object, decoded and (when `check`) strict-decoding checked per the
    fieldValidation directive; in a worker thread when the body is heavy."""
    def work() -> dict[str, Any]:
        dups: list[str] | None = [] if codec.is_yaml(call.content_type) else None
        obj = codec.decode_object(call.body, call.content_type, dups)
        if check:
            fields.body(call.resource, obj, call.body, call.content_type, directive,
                        call.warnings, yaml_dups=dups)
        return obj

    if heavy(call.body, call.content_type):
        return await asyncio.to_thread(work)
    return work()
