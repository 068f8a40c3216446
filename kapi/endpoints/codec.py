"""Request bodies in, response bodies out: JSON and YAML decoding, the Accept header's
`as=Table` / `as=PartialObjectMetadata` forms, and body size and nesting limits.

Decoding errors become 400/406/413/415 APIErrors here; nothing else parses bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from kapi import errors
from kapi.endpoints.protobuf import MEDIA_TYPE as PROTOBUF
from kapi.endpoints.protobuf import ProtobufError, decode_k8s_protobuf
from kapi.validation import yamlload

MAX_BODY_BYTES = 3 * 1024 * 1024  # upstream's limit for a request body
# Upstream decodes 10,000 levels of nesting; kapi stores objects with orjson (255 levels
# at most) and walks them recursively, so it refuses bodies nested deeper than this. A
# patch result stays under orjson's limit too: at most twice this deep.
MAX_DEPTH = 100

JSON = "application/json"
YAML = "application/yaml"
BODY_TYPES = (JSON, YAML, PROTOBUF)  # what an object body may be sent as (upstream's list)
# What a response may be asked for in: kapi answers JSON to all of them.
ACCEPTABLE = frozenset({"", "*/*", "application/*", JSON, YAML, PROTOBUF})
INCLUDE_OBJECT = ("", "None", "Metadata", "Object")
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply-cbor",
}

def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def unsupported_media_type(content_type: str | None) -> errors.UnsupportedMediaType:
    return errors.UnsupportedMediaType(
        f'the body of the request was in an unknown format - accepted media types '
        f'include: {", ".join(BODY_TYPES)}')


def body_content_type(content_type: str | None, origin: str | None) -> str | None:
    """The Content-Type a body is read as. Upstream reads a body without one as JSON,
    and the official Python client sends its creates, updates and DeleteOptions so.
    But kapi serves without authentication, and a web page can POST from the user's
    browser a body with no type (a no-cors fetch of bytes), which no CORS check stops:
    a request that carries an Origin (every browser POST does; no CLI client sends
    one) must name its type, so such pages get a 415 instead of writing."""
    if content_type is None and origin is None:
        return JSON
    return content_type


def is_yaml(content_type: str | None) -> bool:
    mt = media_type(content_type)
    return mt.endswith("yaml") or mt == "text/yaml"


def decode_body(raw: bytes, content_type: str | None,
                duplicates: list[str] | None = None) -> Any:
    """Decode a JSON, YAML or protobuf body; anything malformed is a 400, another
    Content-Type (or none: see body_content_type) a 415. A YAML body's repeated keys go
    to `duplicates` when given (it is composed once for both)."""
    if len(raw) > MAX_BODY_BYTES:
        raise errors.RequestEntityTooLarge("Request entity too large: limit is 3145728")
    mt = media_type(content_type)
    if mt not in BODY_TYPES:
        raise unsupported_media_type(content_type)
    if not raw.strip():
        raise errors.BadRequest("the request body is empty: an object is required")
    if mt == PROTOBUF:
        try:
            return decode_k8s_protobuf(raw)
        except ProtobufError as e:
            raise errors.BadRequest(f"the object provided is unrecognized or malformed protobuf: {e}") from None
    if is_yaml(mt):
        try:
            return check_depth(yamlload.load(raw, duplicates), raw, walk=True)
        except yaml.YAMLError as e:
            raise errors.BadRequest(f"error converting YAML to JSON: {e}") from None
    return decode_json(raw)


def decode_json(raw: bytes) -> Any:
    """A JSON body (object, patch or options), nested at most MAX_DEPTH deep."""
    try:
        return check_depth(orjson.loads(raw), raw)
    except orjson.JSONDecodeError as e:
        raise errors.BadRequest(
            f"the object provided is unrecognized or malformed JSON: {e}") from None


def check_depth(value: Any, raw: bytes, *, walk: bool = False) -> Any:
    """value itself, or a 400 when it nests deeper than MAX_DEPTH. A JSON text with
    fewer brackets than that cannot be so deep: the walk runs only on the rare others."""
    if not walk and raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH:
        return value
    if depth(value, MAX_DEPTH) > MAX_DEPTH:
        raise errors.BadRequest(f"the object provided is nested more than {MAX_DEPTH} "
                                "levels deep")
    return value


def depth(value: Any, limit: int) -> int:
    """How deep value nests (a scalar is 0), counted up to limit + 1. Iterative, and each
    container is entered once however many aliases share it."""
    deepest, seen = 0, set()
    stack = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if type(v) is dict:
            children: Any = v.values()
        elif type(v) is list:
            children = v
        else:
            continue
        d += 1
        if d > deepest:
            deepest = d
            if d > limit:
                return d
        if id(v) in seen:
            continue
        seen.add(id(v))
        stack.extend((c, d) for c in children if type(c) is dict or type(c) is list)
    return deepest


def decode_object(raw: bytes, content_type: str | None,
                  duplicates: list[str] | None = None) -> dict[str, Any]:
    obj = decode_body(raw, content_type, duplicates)
    if not isinstance(obj, dict):
        raise errors.BadRequest(
            f"the body of the request must be a JSON object, not {type(obj).__name__}")
    meta = obj.get("metadata")
    if meta is None:
        obj["metadata"] = {}
    elif not isinstance(meta, dict):
        raise errors.BadRequest("metadata must be an object")
    return obj


@dataclass(frozen=True)
class Output:
    """What form the client asked the response in."""

    table: bool = False
    partial_metadata: bool = False  # as=PartialObjectMetadata or ...List
    include_object: str = "Metadata"
    partial_list: bool = False  # as=PartialObjectMetadataList: only a list may answer
    meta_version: str = "v1"  # the meta.k8s.io version asked for (v1 or v1beta1)


def output_from_accept(accept: str | None, include_object: str | None) -> Output:
    """Honour the first acceptable entry of Accept, as upstream's negotiation does; an
    Accept naming nothing kapi can answer in is a 406."""
    for part in (accept or "").split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        as_ = params.get("as")
        if as_ == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            return Output(table=True, include_object=_include_object(include_object),
                          meta_version=params["v"])
        if (as_ in ("PartialObjectMetadata", "PartialObjectMetadataList")
                and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1")):
            return Output(partial_metadata=True, partial_list=as_.endswith("List"),
                          meta_version=params["v"])
        if as_ is None:
            mt = media_type(part)
            if mt in ACCEPTABLE or mt.endswith("json"):
                return Output()
    raise _not_acceptable()


def _not_acceptable() -> errors.NotAcceptable:
    return errors.NotAcceptable("only the following media types are accepted: "
                                + ", ".join(BODY_TYPES))


def refuse_table(out: Output) -> None:
    """A create-only kind that is never stored (the access reviews, TokenReview,
    TokenRequest, SelfSubjectReview) has no Table form: upstream's storage for it has no
    TableConvertor, so negotiating as=Table fails with 406 before the body is read."""
    if out.table:
        raise _not_acceptable()


def _include_object(value: str | None) -> str:
    if value not in (None, *INCLUDE_OBJECT):
        raise errors.BadRequest(
            f'Unable to convert to Table as requested: includeObject: Unsupported value: '
            f'"{value}": supported values: "", "Metadata", "None", "Object"')
    return value or "Metadata"


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)
