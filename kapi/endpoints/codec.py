"""Request bodies in, response bodies out: JSON and YAML decoding, the Accept header's
`as=Table` / `as=PartialObjectMetadata` forms, and body size limits.

Decoding errors become 400/413/415 APIErrors here; nothing else parses bodies.
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

JSON = "application/json"
YAML = "application/yaml"
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply-cbor",
}

def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def is_yaml(content_type: str | None) -> bool:
    mt = media_type(content_type)
    return mt.endswith("yaml") or mt == "text/yaml"


def decode_body(raw: bytes, content_type: str | None,
                duplicates: list[str] | None = None) -> Any:
    """Decode a JSON or YAML body; anything malformed is a 400. A YAML body's repeated
    keys go to `duplicates` when given (it is composed once for both)."""
    if len(raw) > MAX_BODY_BYTES:
        raise errors.RequestEntityTooLarge("Request entity too large: limit is 3145728")
    if not raw.strip():
        raise errors.BadRequest("the request body is empty: an object is required")
    mt = media_type(content_type)
    if mt == PROTOBUF:
        try:
            return decode_k8s_protobuf(raw)
        except ProtobufError as e:
            raise errors.BadRequest(f"the object provided is unrecognized or malformed protobuf: {e}") from None
    if is_yaml(mt):
        try:
            return yamlload.load(raw, duplicates)
        except yaml.YAMLError as e:
            raise errors.BadRequest(f"error converting YAML to JSON: {e}") from None
    if mt and mt not in (JSON, "*/*") and not mt.endswith("+json"):
        raise errors.UnsupportedMediaType(
            f'the body of the request was in an unknown format - accepted media types '
            f'include: application/json, application/yaml, {PROTOBUF}')
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise errors.BadRequest(
            f"the object provided is unrecognized or malformed JSON: {e}") from None


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
    partial_metadata: bool = False
    include_object: str = "Metadata"


def output_from_accept(accept: str | None, include_object: str | None) -> Output:
    """Honour the first acceptable entry of Accept, as upstream's negotiation does."""
    for part in (accept or "").split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        as_ = params.get("as")
        if as_ == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            return Output(table=True, include_object=include_object or "Metadata")
        if as_ == "PartialObjectMetadata" and params.get("g") == "meta.k8s.io":
            return Output(partial_metadata=True)
        if as_ is None:
            mt = media_type(part)
            if mt in (JSON, "*/*", "application/*", "") or mt.endswith("json"):
                return Output()
    return Output()


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)
