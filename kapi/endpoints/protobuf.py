"""Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) to JSON form.

Typed clients (kubectl's `create <generator>`, `run`, `drain`, client-go programs) send
request bodies as upstream's protobuf envelope: the magic `k8s\\x00`, then a
runtime.Unknown {typeMeta, raw, contentEncoding, contentType} whose raw bytes are the
object's own message (k8s.io/api generated.proto). This module turns such a body into the
dict the same client would have sent as JSON, i.e. what Go's encoding/json makes of the
decoded struct: omitempty zero scalars dropped, Go pointers kept even when zero, structs
always written, meta/v1 Time/MicroTime/Duration, Quantity, IntOrString, RawExtension and
FieldsV1 in their JSON forms, `bytes` as base64.

It owns only that decoding (and the envelope check); the field numbers come from the
generated table protobuf_fields.json (kapi.endpoints.protobuf_gen builds it from upstream's
generated.proto and Go types; read once at import). Decoding is pure: it never does I/O,
and every malformed, truncated or unknown input raises ProtobufError (never another
exception).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import struct
from pathlib import Path
from typing import Any

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
MAX_DEPTH = 48  # nesting of messages (and embedded objects) a body may have

_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_TIME = f"{_META}.Time"
_MICROTIME = f"{_META}.MicroTime"
_DURATION = f"{_META}.Duration"
_FIELDSV1 = f"{_META}.FieldsV1"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INTORSTRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_RAWEXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"

# API group -> OpenAPI definition package of its types.
_GROUP_PACKAGE = {
    "": "io.k8s.api.core",
    "apps": "io.k8s.api.apps",
    "authorization.k8s.io": "io.k8s.api.authorization",
    "authentication.k8s.io": "io.k8s.api.authentication",
    "batch": "io.k8s.api.batch",
    "autoscaling": "io.k8s.api.autoscaling",
    "coordination.k8s.io": "io.k8s.api.coordination",
    "discovery.k8s.io": "io.k8s.api.discovery",
    "events.k8s.io": "io.k8s.api.events",
    "policy": "io.k8s.api.policy",
    "rbac.authorization.k8s.io": "io.k8s.api.rbac",
    "storage.k8s.io": "io.k8s.api.storage",
    "scheduling.k8s.io": "io.k8s.api.scheduling",
    "node.k8s.io": "io.k8s.api.node",
    "networking.k8s.io": "io.k8s.api.networking",
    "certificates.k8s.io": "io.k8s.api.certificates",
    "flowcontrol.apiserver.k8s.io": "io.k8s.api.flowcontrol",
}

# The top-level kinds a body may carry, by definition name (also the roots of the table).
KINDS = frozenset(
    [f"io.k8s.api.core.v1.{k}" for k in (
        "Namespace", "Pod", "Service", "Endpoints", "ConfigMap", "Secret", "ServiceAccount",
        "Node", "Event", "PersistentVolumeClaim", "LimitRange", "ResourceQuota", "Binding",
        "ReplicationController")]
    + [f"io.k8s.api.apps.v1.{k}" for k in (
        "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ControllerRevision")]
    + ["io.k8s.api.autoscaling.v1.Scale", "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler",
       "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
       "io.k8s.api.batch.v1.Job", "io.k8s.api.batch.v1.CronJob",
       "io.k8s.api.coordination.v1.Lease", "io.k8s.api.discovery.v1.EndpointSlice",
       "io.k8s.api.events.v1.Event",
       "io.k8s.api.policy.v1.Eviction", "io.k8s.api.policy.v1.PodDisruptionBudget"]
    + [f"io.k8s.api.authorization.v1.{k}" for k in (
        "SubjectAccessReview", "LocalSubjectAccessReview", "SelfSubjectAccessReview",
        "SelfSubjectRulesReview")]
    + [f"io.k8s.api.rbac.v1.{k}" for k in (
        "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")]
    + ["io.k8s.api.authentication.v1.TokenRequest", "io.k8s.api.authentication.v1.TokenReview"]
    + ["io.k8s.api.core.v1.PersistentVolume", "io.k8s.api.scheduling.v1.PriorityClass",
       "io.k8s.api.node.v1.RuntimeClass", "io.k8s.api.certificates.v1.CertificateSigningRequest",
       "io.k8s.api.flowcontrol.v1.FlowSchema",
       "io.k8s.api.flowcontrol.v1.PriorityLevelConfiguration"]
    + [f"io.k8s.api.storage.v1.{k}" for k in (
        "StorageClass", "CSIDriver", "CSINode", "VolumeAttachment", "CSIStorageCapacity")]
    + [f"io.k8s.api.networking.v1.{k}" for k in (
        "Ingress", "IngressClass", "NetworkPolicy", "ServiceCIDR", "IPAddress")])
# meta/v1 kinds upstream registers in every group version (and in meta.k8s.io/v1).
_META_KINDS = frozenset({"DeleteOptions", "Status"})

_VARINT_KINDS = frozenset({"int32", "int64", "uint32", "uint64", "sint32", "sint64", "bool",
                           "enum"})
_FIXED64_KINDS = frozenset({"double", "fixed64", "sfixed64"})
_FIXED32_KINDS = frozenset({"float", "fixed32", "sfixed32"})
_WIRE_NAMES = {0: "varint", 1: "fixed64", 2: "length-delimited", 5: "fixed32"}

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ZERO_TIME_SECONDS = -62135596800  # 0001-01-01T00:00:00Z, Go's zero time.Time
_MAX_TIME_SECONDS = 253402300799  # 9999-12-31T23:59:59Z


def _load_fields(path: Path) -> dict[str, dict[int, tuple[Any, ...]]]:
    """FIELDS[message][number] = (json_name, kind, type, repeated, pointer, omitempty):
    json_name "" for a Go field embedded inline; kind a protobuf scalar, "message" or
    "map"; type the message's definition name, (key kind, value kind or message) for a
    map, None for a scalar; pointer: a Go pointer, whose zero value is kept."""
    raw = json.loads(path.read_text())
    return {name: {int(n): (j, k, tuple(t) if isinstance(t, list) else t, r, p, o)
                   for n, (j, k, t, r, p, o) in rows.items()}
            for name, rows in raw.items()}


FIELDS = _load_fields(Path(__file__).with_name("protobuf_fields.json"))


class ProtobufError(ValueError):
    """The body is not a well-formed Kubernetes protobuf object kapi can decode."""


# ---------------------------------------------------------------------------------------
# Wire format
# ---------------------------------------------------------------------------------------

def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise ProtobufError("unexpected end of data in a varint")
        b = buf[pos]
        pos += 1
        if shift == 63 and b > 1:
            raise ProtobufError("varint overflows 64 bits")
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint overflows 64 bits")


def _scan(buf: bytes, start: int, end: int, what: str) -> list[tuple[int, int, Any]]:
    """The (field number, wire type, value) triples of one message, in order.

    A varint or fixed value is an int; a length-delimited value is a (start, end) span.
    """
    out: list[tuple[int, int, Any]] = []
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        num, wt = key >> 3, key & 7
        val: int | tuple[int, int]
        if num <= 0 or num > 0x1FFFFFFF:
            raise ProtobufError(f"{what}: illegal field number {num}")
        if wt == 0:
            val, pos = _varint(buf, pos, end)
        elif wt == 1:
            if pos + 8 > end:
                raise ProtobufError(f"{what}: unexpected end of data in field {num}")
            val = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wt == 5:
            if pos + 4 > end:
                raise ProtobufError(f"{what}: unexpected end of data in field {num}")
            val = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        elif wt == 2:
            n, pos = _varint(buf, pos, end)
            if n > end - pos:
                raise ProtobufError(f"{what}: field {num} is longer than the data left "
                                    f"({n} > {end - pos} bytes)")
            val = (pos, pos + n)
            pos += n
        else:
            raise ProtobufError(f"{what}: unsupported wire type {wt} in field {num}")
        out.append((num, wt, val))
    return out


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _scalar(kind: str, wt: int, val: Any, buf: bytes, what: str) -> Any:
    if kind in _VARINT_KINDS:
        if kind == "bool":
            return val != 0
        if kind == "int32" or kind == "enum":
            return _signed(val, 32)
        if kind == "int64":
            return _signed(val, 64)
        if kind == "uint32":
            return val & 0xFFFFFFFF
        if kind == "sint32":
            val &= 0xFFFFFFFF
            return (val >> 1) ^ -(val & 1)
        if kind == "sint64":
            return (val >> 1) ^ -(val & 1)
        return val  # uint64
    if kind in _FIXED64_KINDS or kind in _FIXED32_KINDS:
        if kind == "double" or kind == "float":
            raw = val.to_bytes(8 if kind == "double" else 4, "little")
            f = struct.unpack("<d" if kind == "double" else "<f", raw)[0]
            if math.isnan(f) or math.isinf(f):
                raise ProtobufError(f"{what}: {f} is not representable in JSON")
            return int(f) if f.is_integer() and abs(f) < 1e21 else f  # as Go's JSON writes it
        bits = 64 if kind in _FIXED64_KINDS else 32
        return _signed(val, bits) if kind.startswith("s") else val
    start, end = val
    if kind == "string":
        # Go keeps the bytes; its JSON encoder writes invalid UTF-8 as U+FFFD.
        return buf[start:end].decode("utf-8", errors="replace")
    if kind == "bytes":
        return base64.b64encode(buf[start:end]).decode("ascii")
    raise ProtobufError(f"{what}: unsupported field kind {kind!r}")  # pragma: no cover


def _wire_ok(kind: str, wt: int, repeated: bool) -> bool:
    if kind in _VARINT_KINDS:
        return wt == 0 or (repeated and wt == 2)
    if kind in _FIXED64_KINDS:
        return wt == 1 or (repeated and wt == 2)
    if kind in _FIXED32_KINDS:
        return wt == 5 or (repeated and wt == 2)
    return wt == 2


def _unpack(kind: str, span: tuple[int, int], buf: bytes, what: str) -> list[tuple[int, Any]]:
    """A packed repeated scalar's elements as (wire type, value) pairs."""
    pos, end = span
    out: list[tuple[int, Any]] = []
    while pos < end:
        if kind in _VARINT_KINDS:
            v, pos = _varint(buf, pos, end)
            out.append((0, v))
        else:
            size = 8 if kind in _FIXED64_KINDS else 4
            if pos + size > end:
                raise ProtobufError(f"{what}: truncated packed field")
            out.append((1 if size == 8 else 5, int.from_bytes(buf[pos:pos + size], "little")))
            pos += size
    return out


# ---------------------------------------------------------------------------------------
# Go JSON forms of the special types
# ---------------------------------------------------------------------------------------

def go_duration(ns: int) -> str:
    """time.Duration.String(): "1m30s", "1h0m0s", "1.5s", "500ms", "0s"."""
    if ns == 0:
        return "0s"
    neg, u = ns < 0, abs(ns)

    def frac(v: int, prec: int) -> tuple[str, int]:
        whole, f = divmod(v, 10 ** prec)
        digits = f"{f:0{prec}d}".rstrip("0") if prec else ""
        return ("." + digits if digits else ""), whole

    if u < 1_000_000_000:
        unit, prec = ("ns", 0) if u < 1000 else ("µs", 3) if u < 1_000_000 else ("ms", 6)
        f, whole = frac(u, prec)
        s = f"{whole}{f}{unit}"
    else:
        f, secs = frac(u, 9)
        s = f"{secs % 60}{f}s"
        mins = secs // 60
        if mins:
            s = f"{mins % 60}m" + s
            hours = mins // 60
            if hours:
                s = f"{hours}h" + s
    return "-" + s if neg else s


def _format_time(seconds: int, micros: int | None, what: str) -> str:
    if not _ZERO_TIME_SECONDS <= seconds <= _MAX_TIME_SECONDS:
        raise ProtobufError(f"{what}: time {seconds}s is outside years 1-9999")
    t = _EPOCH + dt.timedelta(seconds=seconds)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.year < 1000:  # strftime does not pad years on every platform
        base = f"{t.year:04d}" + base[base.index("-"):]
    return f"{base}.{micros:06d}Z" if micros is not None else base + "Z"


def _special(name: str, fields: dict[int, Any], buf: bytes, depth: int, what: str) -> Any:
    """The JSON value of a special message; None stands for Go's null (zero time, no raw)."""
    if name in (_TIME, _MICROTIME):
        if not fields:
            return None  # zero time: Go writes null
        seconds = _signed(fields.get(1, (0, 0))[1], 64)
        if name == _TIME:  # upstream drops the nanoseconds of a Time
            return None if seconds == _ZERO_TIME_SECONDS else _format_time(seconds, None, what)
        nanos = _signed(fields.get(2, (0, 0))[1], 32)
        total_us = seconds * 1_000_000 + (nanos // 1000 if nanos >= 0 else -(-nanos // 1000))
        seconds, micros = divmod(total_us, 1_000_000)
        if seconds == _ZERO_TIME_SECONDS and micros == 0:
            return None
        return _format_time(seconds, micros, what)
    if name == _DURATION:
        return go_duration(_signed(fields.get(1, (0, 0))[1], 64))
    if name == _QUANTITY:
        if 1 not in fields:
            return "0"  # the zero Quantity
        s, e = fields[1][1]
        return buf[s:e].decode("utf-8", errors="replace")
    if name == _INTORSTRING:
        typ = _signed(fields.get(1, (0, 0))[1], 64)
        if typ == 0:
            return _signed(fields.get(2, (0, 0))[1], 32)
        if typ == 1:
            if 3 not in fields:
                return ""
            s, e = fields[3][1]
            return buf[s:e].decode("utf-8", errors="replace")
        raise ProtobufError(f"{what}: IntOrString has impossible type {typ}")
    if name in (_RAWEXTENSION, _FIELDSV1):
        if 1 not in fields:
            return None
        s, e = fields[1][1]
        return _raw_json(buf[s:e], depth, what)
    raise ProtobufError(f"{what}: unsupported special type {name}")  # pragma: no cover


def _raw_json(raw: bytes, depth: int, what: str) -> Any:
    if not raw:
        return None
    if raw.startswith(MAGIC):  # an embedded object in protobuf form
        return _decode(raw, None, depth + 1)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise ProtobufError(f"{what}: embedded object is not JSON: {e}") from None


_SPECIALS = frozenset({_TIME, _MICROTIME, _DURATION, _QUANTITY, _INTORSTRING, _RAWEXTENSION,
                       _FIELDSV1})
_SPECIAL_WIRE = {  # field number -> wire type the special messages carry
    _TIME: {1: 0, 2: 0}, _MICROTIME: {1: 0, 2: 0}, _DURATION: {1: 0}, _QUANTITY: {1: 2},
    _INTORSTRING: {1: 0, 2: 0, 3: 2}, _RAWEXTENSION: {1: 2}, _FIELDSV1: {1: 2},
}


# ---------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------

def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _message(name: str, buf: bytes, spans: list[tuple[int, int]], depth: int) -> Any:
    """Decode a message from one or more spans (several occurrences of a singular message
    field merge, as in protobuf)."""
    what = _short(name)
    if depth > MAX_DEPTH:
        raise ProtobufError(f"{what}: objects nested deeper than {MAX_DEPTH} levels")
    table = FIELDS.get(name)
    if table is None:
        raise ProtobufError(f"no protobuf field table for message {name}")
    triples: list[tuple[int, int, Any]] = []
    for s, e in spans:
        triples += _scan(buf, s, e, what)

    if name in _SPECIALS:
        wires = _SPECIAL_WIRE[name]
        last: dict[int, Any] = {}
        for num, wt, val in triples:
            if num in wires:
                if wt != wires[num]:
                    raise ProtobufError(f"{what}: wrong wire type {_WIRE_NAMES.get(wt, wt)} "
                                        f"for field {num}")
                last[num] = (wt, val)
        return _special(name, last, buf, depth, what)

    seen: dict[int, list[tuple[int, Any]]] = {}
    for num, wt, val in triples:
        f = table.get(num)
        if f is None:
            continue  # upstream skips unknown fields
        jname, kind, _typ, repeated, _ptr, _omit = f
        if not _wire_ok(kind, wt, repeated):
            raise ProtobufError(
                f"{what}: wrong wire type {_WIRE_NAMES.get(wt, wt)} for field "
                f"{jname or num}")
        if wt == 2 and repeated and kind not in ("string", "bytes", "message", "map"):
            seen.setdefault(num, []).extend(_unpack(kind, val, buf, what))
        else:
            seen.setdefault(num, []).append((wt, val))

    out: dict[str, Any] = {}
    for num, (jname, kind, typ, repeated, pointer, omitempty) in table.items():
        where = f"{what}.{jname}" if jname else what
        vals = seen.get(num)
        if kind == "map":
            m = _map(typ, buf, [v for _, v in vals], depth, where) if vals else {}
            if m:
                out[jname] = m
            elif not omitempty:
                out[jname] = None  # a nil map
            continue
        if kind == "message":
            if repeated:
                if vals:
                    out[jname] = [_message(typ, buf, [v], depth + 1) for _, v in vals]
                elif not omitempty:
                    out[jname] = None  # a nil slice
                continue
            if not vals and pointer:
                if not omitempty:
                    out[jname] = None  # a nil pointer
                continue
            # A struct: Go always writes it (as its zero value when absent); a zero Time or
            # an empty RawExtension is written as null, as Go's JSON encoder (and so a JSON
            # client, e.g. a template's "creationTimestamp": null) writes it.
            value = _message(typ, buf, [v for _, v in vals or ()], depth + 1)
            if not jname:
                if isinstance(value, dict):
                    out.update(value)
                continue
            out[jname] = value
            continue
        # scalars
        if repeated:
            if vals:
                out[jname] = [_scalar(kind, wt, v, buf, where) for wt, v in vals]
            elif not omitempty:
                out[jname] = None
            continue
        if vals:
            wt, v = vals[-1]
            value = _scalar(kind, wt, v, buf, where)
            if pointer or not omitempty or not _is_zero(value):
                out[jname] = value
        elif pointer:
            if not omitempty:
                out[jname] = None
        elif not omitempty:
            out[jname] = _zero(kind)
    return out


def _is_zero(v: Any) -> bool:
    return v is False or v == 0 or v == ""


def _zero(kind: str) -> Any:
    if kind == "bool":
        return False
    if kind == "string":
        return ""
    if kind == "bytes":
        return None  # a nil []byte
    return 0


def _map(typ: tuple[str, str], buf: bytes, spans: list[tuple[int, int]], depth: int,
         what: str) -> dict[str, Any]:
    key_kind, value_type = typ
    value_is_message = value_type in FIELDS
    out: dict[str, Any] = {}
    for span in spans:
        key: Any = _zero(key_kind)
        value_spans: list[tuple[int, int]] = []
        value: Any = None if value_is_message else _zero(value_type)
        for num, wt, val in _scan(buf, span[0], span[1], what):
            if num == 1:
                if not _wire_ok(key_kind, wt, False):
                    raise ProtobufError(f"{what}: wrong wire type for a map key")
                key = _scalar(key_kind, wt, val, buf, what)
            elif num == 2:
                if value_is_message:
                    if wt != 2:
                        raise ProtobufError(f"{what}: wrong wire type for a map value")
                    value_spans = [val]  # the last value wins
                else:
                    if not _wire_ok(value_type, wt, False):
                        raise ProtobufError(f"{what}: wrong wire type for a map value")
                    value = _scalar(value_type, wt, val, buf, what)
        if value_is_message:
            value = _message(value_type, buf, value_spans, depth + 1)
        if value is None and value_type == "bytes":
            value = ""
        out[str(key)] = value
    return out


# ---------------------------------------------------------------------------------------
# The envelope
# ---------------------------------------------------------------------------------------

def _definition(api_version: str, kind: str) -> str | None:
    group, _, version = api_version.rpartition("/")
    if kind in _META_KINDS and (group in _GROUP_PACKAGE or group == "meta.k8s.io"):
        return f"{_META}.{kind}"
    pkg = _GROUP_PACKAGE.get(group)
    if pkg is None or not version:
        return None
    name = f"{pkg}.{version}.{kind}"
    return name if name in KINDS else None


def _decode(body: bytes, expected: tuple[str, str] | None, depth: int) -> dict[str, Any]:
    if len(body) < len(MAGIC) or body[:len(MAGIC)] != MAGIC:
        raise ProtobufError("provided data does not appear to be a protobuf message, "
                            "expected prefix 'k8s\\x00'")
    if len(body) == len(MAGIC):
        raise ProtobufError("empty protobuf body: an object is required")
    if depth > MAX_DEPTH:
        raise ProtobufError(f"objects nested deeper than {MAX_DEPTH} levels")
    api_version = kind = encoding = ""
    raw: tuple[int, int] | None = None
    for num, wt, val in _scan(body, len(MAGIC), len(body), "Unknown"):
        if num in (1, 2, 3, 4) and wt != 2:
            raise ProtobufError(f"Unknown: wrong wire type {_WIRE_NAMES.get(wt, wt)} "
                                f"for field {num}")
        if num == 1:
            for n2, wt2, v2 in _scan(body, val[0], val[1], "TypeMeta"):
                if n2 in (1, 2):
                    if wt2 != 2:
                        raise ProtobufError("TypeMeta: wrong wire type")
                    text = body[v2[0]:v2[1]].decode("utf-8", errors="replace")
                    if n2 == 1:
                        api_version = text
                    else:
                        kind = text
        elif num == 2:
            raw = val
        elif num == 3:
            encoding = body[val[0]:val[1]].decode("utf-8", errors="replace")
    if expected is not None:  # the URL's group/version/kind fill in what the body lacks
        api_version = api_version or expected[0]
        kind = kind or expected[1]
    if not kind:
        raise ProtobufError("Object 'Kind' is missing in the protobuf body")
    if not api_version:
        raise ProtobufError("Object 'apiVersion' is missing in the protobuf body")
    if encoding:
        raise ProtobufError(f"unsupported protobuf content encoding {encoding!r}")
    name = _definition(api_version, kind)
    if name is None:
        raise ProtobufError(f"no kind {kind!r} is registered for version {api_version!r} "
                            f"in protobuf bodies")
    obj = _message(name, body, [raw] if raw else [], depth + 1)
    return {"kind": kind, "apiVersion": api_version, **obj}


def decode_k8s_protobuf(body: bytes, expected: tuple[str, str] | None = None) -> dict[str, Any]:
    """Decode a Kubernetes protobuf body into the JSON-form dict of the object.

    `expected` is the (apiVersion, kind) the URL implies; it only fills in a body whose
    envelope lacks them (comparing the two is the caller's business, as for JSON bodies).
    Raises ProtobufError for anything malformed, truncated, too deep or of an unknown kind.
    """
    if not isinstance(body, bytes):
        body = bytes(body)
    try:
        return _decode(body, expected, 0)
    except ProtobufError:
        raise
    except RecursionError:
        raise ProtobufError(f"objects nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError, IndexError, OverflowError) as e:  # pragma: no cover
        raise ProtobufError(f"malformed protobuf body: {e}") from None
