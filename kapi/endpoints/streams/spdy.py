"""SPDY/3.1 framing, sans-IO: bytes in, frames out; frames in, bytes out.

kubectl before 1.30 (exec, attach, cp) and before 1.31 (port-forward) multiplex their
streams over SPDY/3.1, and kubectl 1.31+ still speaks it inside a WebSocket for
port-forward; no maintained Python library speaks it, so its framing lives here, alone.
The wire format is the one of the SPDY/3 draft that Go's framer (moby/spdystream) writes:

- a data frame: stream id (31 bits, top bit 0), flags (FIN 0x01), 24-bit length, payload;
- a control frame: 0x8003 (control bit + version 3), 16-bit type, flags, 24-bit length;
  SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS and WINDOW_UPDATE;
- header blocks (SYN_STREAM, SYN_REPLY, HEADERS) as 32-bit counted name/value pairs
  (several values of a name joined by NUL), zlib-compressed with the SPDY/3 dictionary,
  one compression context per direction for the whole connection, each block flushed.

Flow control is not enforced: Go's spdystream neither honours nor sends WINDOW_UPDATE, so
WINDOW_UPDATE and SETTINGS are parsed and left to the caller to ignore. This module owns
the framing only; it never does I/O and knows nothing of Kubernetes' stream types.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
MAX_LENGTH = (1 << 24) - 1
DATA_CHUNK = 32 * 1024  # the largest data frame this side writes

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9
# RST_STREAM status codes used here
PROTOCOL_ERROR, REFUSED_STREAM, CANCEL, INTERNAL_ERROR = 1, 3, 5, 6

_WORDS = (
    "options|head|post|put|delete|trace|accept|accept-charset|accept-encoding|"
    "accept-language|accept-ranges|age|allow|authorization|cache-control|connection|"
    "content-base|content-encoding|content-language|content-length|content-location|"
    "content-md5|content-range|content-type|date|etag|expect|expires|from|host|if-match|"
    "if-modified-since|if-none-match|if-range|if-unmodified-since|last-modified|location|"
    "max-forwards|pragma|proxy-authenticate|proxy-authorization|range|referer|retry-after|"
    "server|te|trailer|transfer-encoding|upgrade|user-agent|vary|via|warning|"
    "www-authenticate|method|get|status|200 OK|version|HTTP/1.1|url|public|set-cookie|"
    "keep-alive|origin")
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502"
    "504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
    "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
    "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct "
    "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,"
    "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,"
    "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
# The SPDY/3 header compression dictionary: 65 length-prefixed words, then raw text.
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode()
                      for w in _WORDS.split("|")) + _TAIL.encode()

Headers = dict[str, list[str]]


class ProtocolError(Exception):
    """The peer sent bytes that are not SPDY/3 framing; the session cannot go on."""


@dataclass(frozen=True)
class Data:
    stream_id: int
    data: bytes
    fin: bool = False


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers
    fin: bool = False
    associated_to: int = 0
    priority: int = 0


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class HeadersFrame:
    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Settings:
    entries: tuple[tuple[int, int, int], ...]  # (flags, id, value)


@dataclass(frozen=True)
class Ping:
    id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = 0


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int


Frame = (Data | SynStream | SynReply | HeadersFrame | RstStream | Settings | Ping | GoAway
         | WindowUpdate)


def header(headers: Headers, name: str) -> str:
    """The first value of a header (names are lower case on the wire), or ""."""
    values = headers.get(name.lower()) or [""]
    return values[0]


class Connection:
    """One side of a SPDY/3 connection: `receive` parses, `send` serializes."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                         zdict=DICTIONARY)

    # -- reading ----------------------------------------------------------------------
    def receive(self, data: bytes) -> list[Frame]:
        """Every frame completed by `data` (a partial frame waits for more)."""
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            length = int.from_bytes(self._buffer[5:8], "big")
            if len(self._buffer) < 8 + length:
                break
            head, body = bytes(self._buffer[:8]), bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            frame = self._parse(head, body)
            if frame is not None:
                frames.append(frame)
        return frames

    def _parse(self, head: bytes, body: bytes) -> Frame | None:
        first, flags = struct.unpack(">I", head[:4])[0], head[4]
        if not first & 0x80000000:
            return Data(first & 0x7FFFFFFF, body, bool(flags & FLAG_FIN))
        version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise ProtocolError(f"unsupported SPDY version {version}")
        try:
            return self._control(kind, flags, body)
        except (struct.error, zlib.error, UnicodeDecodeError, IndexError) as e:
            raise ProtocolError(f"malformed control frame of type {kind}: {e}") from None

    def _control(self, kind: int, flags: int, body: bytes) -> Frame | None:
        fin = bool(flags & FLAG_FIN)
        if kind == SYN_STREAM:
            sid, assoc = struct.unpack(">II", body[:8])
            return SynStream(sid & 0x7FFFFFFF, self._headers(body[10:]), fin,
                             assoc & 0x7FFFFFFF, body[8] >> 5)
        if kind in (SYN_REPLY, HEADERS):
            sid = struct.unpack(">I", body[:4])[0] & 0x7FFFFFFF
            cls = SynReply if kind == SYN_REPLY else HeadersFrame
            return cls(sid, self._headers(body[4:]), fin)
        if kind == RST_STREAM:
            sid, status = struct.unpack(">II", body[:8])
            return RstStream(sid & 0x7FFFFFFF, status)
        if kind == SETTINGS:
            count = struct.unpack(">I", body[:4])[0]
            entries = tuple((body[4 + 8 * i], int.from_bytes(body[5 + 8 * i:8 + 8 * i], "big"),
                             struct.unpack(">I", body[8 + 8 * i:12 + 8 * i])[0])
                            for i in range(count))
            return Settings(entries)
        if kind == PING:
            return Ping(struct.unpack(">I", body[:4])[0])
        if kind == GOAWAY:
            last, status = struct.unpack(">II", body[:8])
            return GoAway(last & 0x7FFFFFFF, status)
        if kind == WINDOW_UPDATE:
            sid, delta = struct.unpack(">II", body[:8])
            return WindowUpdate(sid & 0x7FFFFFFF, delta & 0x7FFFFFFF)
        return None  # unknown control frames are ignored, as the draft says

    def _headers(self, compressed: bytes) -> Headers:
        raw = self._inflate.decompress(compressed)
        count, pos = struct.unpack(">I", raw[:4])[0], 4
        out: Headers = {}
        for _ in range(count):
            (n,) = struct.unpack(">I", raw[pos:pos + 4])
            name = raw[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
            (v,) = struct.unpack(">I", raw[pos:pos + 4])
            value = raw[pos + 4:pos + 4 + v].decode()
            pos += 4 + v
            out.setdefault(name.lower(), []).extend(value.split("\x00"))
        return out

    # -- writing ----------------------------------------------------------------------
    def send(self, frame: Frame) -> bytes:
        if isinstance(frame, Data):
            return self._data(frame)
        fin = FLAG_FIN if getattr(frame, "fin", False) else 0
        if isinstance(frame, SynStream):
            body = (struct.pack(">IIBB", frame.stream_id, frame.associated_to,
                                (frame.priority & 7) << 5, 0) + self._block(frame.headers))
            return _control(SYN_STREAM, fin, body)
        if isinstance(frame, (SynReply, HeadersFrame)):
            kind = SYN_REPLY if isinstance(frame, SynReply) else HEADERS
            return _control(kind, fin, struct.pack(">I", frame.stream_id)
                            + self._block(frame.headers))
        if isinstance(frame, RstStream):
            return _control(RST_STREAM, 0, struct.pack(">II", frame.stream_id, frame.status))
        if isinstance(frame, Settings):
            body = struct.pack(">I", len(frame.entries)) + b"".join(
                bytes([f]) + i.to_bytes(3, "big") + struct.pack(">I", v)
                for f, i, v in frame.entries)
            return _control(SETTINGS, 0, body)
        if isinstance(frame, Ping):
            return _control(PING, 0, struct.pack(">I", frame.id))
        if isinstance(frame, GoAway):
            return _control(GOAWAY, 0, struct.pack(">II", frame.last_good_stream_id,
                                                   frame.status))
        return _control(WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id, frame.delta))

    def _data(self, frame: Data) -> bytes:
        """One or more data frames (payloads cut at DATA_CHUNK); FIN on the last."""
        out, view = bytearray(), memoryview(frame.data)
        while True:
            chunk, view = view[:DATA_CHUNK], view[DATA_CHUNK:]
            last = not len(view)
            flags = FLAG_FIN if (last and frame.fin) else 0
            out += struct.pack(">IB", frame.stream_id & 0x7FFFFFFF, flags)
            out += len(chunk).to_bytes(3, "big") + chunk
            if last:
                return bytes(out)

    def _block(self, headers: Headers) -> bytes:
        raw = bytearray(struct.pack(">I", len(headers)))
        for name, values in headers.items():
            n, v = name.lower().encode(), "\x00".join(values).encode()
            raw += struct.pack(">I", len(n)) + n + struct.pack(">I", len(v)) + v
        return self._deflate.compress(bytes(raw)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)


def _control(kind: int, flags: int, body: bytes) -> bytes:
    if len(body) > MAX_LENGTH:
        raise ValueError("control frame too large")
    return (struct.pack(">HHB", 0x8000 | VERSION, kind, flags)
            + len(body).to_bytes(3, "big") + body)
