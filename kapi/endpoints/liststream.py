"""Large list responses written piece by piece.

A list of thousands of objects (or of a few thousand large ones) encoded in one call
holds the event loop for as long as the encoding takes and the whole document in
memory at once. Here the list's head is encoded alone, then its items about a MiB at a
time, yielding to the loop between pieces; the bytes are the same JSON document.
Owns only the encoding; the handler decides what the list holds.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import orjson

STREAM_ITEMS = 500  # lists with more items than this are streamed
PIECE_BYTES = 1024 * 1024


def worth_streaming(out: Any) -> bool:
    items = out.get("items") if isinstance(out, dict) else None
    return isinstance(items, list) and len(items) > STREAM_ITEMS


async def encode_list(out: dict[str, Any]) -> AsyncIterator[bytes]:
    """`out` as JSON: everything but items first, then the items in pieces."""
    head = orjson.dumps({k: v for k, v in out.items() if k != "items"})
    yield head[:-1] + (b',"items":[' if len(head) > 2 else b'"items":[')
    piece: list[bytes] = []
    size = 0
    for i, item in enumerate(out["items"]):
        data = orjson.dumps(item)
        piece.append(b"," + data if i else data)
        size += len(data)
        if size >= PIECE_BYTES:
            yield b"".join(piece)
            piece, size = [], 0
            await asyncio.sleep(0)  # others run between pieces
    yield b"".join(piece) + b"]}\n"  # Go's encoder ends the document with a newline
