"""The Swagger 2.0 document as the gnostic openapi_v2.Document protobuf message.

kubectl (client-go's discovery OpenAPISchema) asks for /openapi/v2 with
``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and decodes the
reply as github.com/google/gnostic-models/openapiv2 ``Document``. Owns: a minimal
hand-written proto3 wire encoder and the mapping from a Swagger 2.0 dict (as
kapi.openapi.v2.openapi_v2 builds it) onto that message, using the field numbers of
gnostic's openapiv2/OpenAPIv2.proto. Vendor extensions, enums and defaults travel as
``Any.yaml`` text (JSON, which YAML parsers read). Schema keywords the message has no
field for (oneOf, anyOf) are dropped, as gnostic drops them.

It must never touch HTTP or depend on a protobuf library.
"""

from __future__ import annotations

import struct
from typing import Any, Callable

import orjson

Doc = dict[str, Any]


class Message:
    """A proto3 message being written; fields holding the default value are skipped."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def _key(self, field: int, wire: int) -> None:
        self._varint(field << 3 | wire)

    def _varint(self, value: int) -> None:
        value &= (1 << 64) - 1
        while value >= 0x80:
            self.buf.append(value & 0x7F | 0x80)
            value >>= 7
        self.buf.append(value)

    def bytes_(self, field: int, data: bytes, always: bool = False) -> Message:
        if data or always:
            self._key(field, 2)
            self._varint(len(data))
            self.buf += data
        return self

    def string(self, field: int, value: str | None) -> Message:
        return self.bytes_(field, (value or "").encode())

    def strings(self, field: int, values: list[str] | tuple[str, ...] | None) -> Message:
        for v in values or ():
            self.bytes_(field, str(v).encode(), always=True)
        return self

    def boolean(self, field: int, value: Any, always: bool = False) -> Message:
        if value or always:
            self._key(field, 0)
            self._varint(1 if value else 0)
        return self

    def int64(self, field: int, value: Any) -> Message:
        if value:
            self._key(field, 0)
            self._varint(int(value))
        return self

    def double(self, field: int, value: Any) -> Message:
        if value:
            self._key(field, 1)
            self.buf += struct.pack("<d", float(value))
        return self

    def message(self, field: int, sub: Message | None) -> Message:
        if sub is not None:
            self.bytes_(field, bytes(sub.buf), always=True)
        return self

    def messages(self, field: int, subs: list[Message]) -> Message:
        for sub in subs:
            self.message(field, sub)
        return self

    def encode(self) -> bytes:
        return bytes(self.buf)


# -- small messages --------------------------------------------------------------------------
def any_yaml(value: Any) -> Message:
    """Any{yaml=2}: the value as JSON text (a YAML document)."""
    return Message().string(2, orjson.dumps(value).decode())


def named(name: str, value: Message) -> Message:
    """Every Named* message: name=1, value=2."""
    return Message().string(1, name).message(2, value)


def vendor_extensions(node: Doc) -> list[Message]:
    return [named(k, any_yaml(v)) for k, v in sorted(node.items()) if k.startswith("x-")]


# -- Schema ----------------------------------------------------------------------------------
_SCHEMA_STRINGS = {"$ref": 1, "format": 2, "title": 3, "description": 4, "pattern": 13,
                   "discriminator": 26}
_SCHEMA_DOUBLES = {"multipleOf": 6, "maximum": 7, "minimum": 9}
_SCHEMA_BOOLS = {"exclusiveMaximum": 8, "exclusiveMinimum": 10, "uniqueItems": 16,
                 "readOnly": 27}
_SCHEMA_INTS = {"maxLength": 11, "minLength": 12, "maxItems": 14, "minItems": 15,
                "maxProperties": 17, "minProperties": 18}


def schema(node: Doc) -> Message:
    """openapi_v2.Schema."""
    m = Message()
    for key, number in _SCHEMA_STRINGS.items():
        m.string(number, node.get(key))
    for key, number in _SCHEMA_DOUBLES.items():
        m.double(number, node.get(key))
    for key, number in _SCHEMA_BOOLS.items():
        m.boolean(number, node.get(key))
    for key, number in _SCHEMA_INTS.items():
        m.int64(number, node.get(key))
    if "default" in node:
        m.message(5, any_yaml(node["default"]))
    m.strings(19, node.get("required"))
    m.messages(20, [any_yaml(v) for v in node.get("enum") or ()])
    _schema_children(m, node)
    if "example" in node:
        m.message(30, any_yaml(node["example"]))
    return m.messages(31, vendor_extensions(node))


def _schema_children(m: Message, node: Doc) -> None:
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        m.message(21, Message().message(1, schema(extra)))
    elif isinstance(extra, bool):
        m.message(21, Message().boolean(2, extra, always=True))
    if "type" in node:
        types = node["type"] if isinstance(node["type"], list) else [node["type"]]
        m.message(22, Message().strings(1, types))
    items = node.get("items")
    if isinstance(items, dict):
        m.message(23, Message().message(1, schema(items)))
    m.messages(24, [schema(s) for s in node.get("allOf") or ()])
    props = node.get("properties")
    if isinstance(props, dict):
        m.message(25, Message().messages(1, [named(k, schema(v)) for k, v in props.items()]))


# -- operations ------------------------------------------------------------------------------
def parameter(p: Doc) -> Message:
    """openapi_v2.ParametersItem{parameter=1: Parameter} (or json_reference=2)."""
    if "$ref" in p:
        return Message().message(2, Message().string(1, p["$ref"]))
    if p.get("in") == "body":
        body = (Message().string(1, p.get("description")).string(2, p.get("name"))
                .string(3, "body").boolean(4, p.get("required"))
                .message(5, schema(p.get("schema") or {})))
        return Message().message(1, Message().message(1, body))
    location = p.get("in")
    # (oneof field in NonBodyParameter, field of "type", field of "uniqueItems")
    number, type_field, unique_field = {"header": (1, 5, 19), "formData": (2, 6, 20),
                                        "path": (4, 5, 19)}.get(location or "", (3, 6, 20))
    sub = (Message().boolean(1, p.get("required")).string(2, location)
           .string(3, p.get("description")).string(4, p.get("name"))
           .string(type_field, p.get("type")).string(type_field + 1, p.get("format"))
           .boolean(unique_field, p.get("uniqueItems")))
    return Message().message(1, Message().message(2, Message().message(number, sub)))


def responses(codes: Doc) -> Message:
    out = []
    for code, r in codes.items():
        resp = Message().string(1, r.get("description"))
        if isinstance(r.get("schema"), dict):
            resp.message(2, Message().message(1, schema(r["schema"])))
        out.append(named(code, Message().message(1, resp)))
    return Message().messages(1, out)


def operation(op: Doc) -> Message:
    return (Message().strings(1, op.get("tags")).string(2, op.get("summary"))
            .string(3, op.get("description")).string(5, op.get("operationId"))
            .strings(6, op.get("produces")).strings(7, op.get("consumes"))
            .messages(8, [parameter(p) for p in op.get("parameters") or ()])
            .message(9, responses(op.get("responses") or {}))
            .strings(10, op.get("schemes")).boolean(11, op.get("deprecated"))
            .messages(13, vendor_extensions(op)))


_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def path_item(item: Doc) -> Message:
    m = Message().string(1, item.get("$ref"))
    for method, number in _METHODS.items():
        if method in item:
            m.message(number, operation(item[method]))
    m.messages(9, [parameter(p) for p in item.get("parameters") or ()])
    return m.messages(10, vendor_extensions(item))


# -- Document --------------------------------------------------------------------------------
def _named_map(values: Doc, build: Callable[[Any], Message]) -> Message:
    return Message().messages(1, [named(k, build(v)) for k, v in sorted(values.items())])


def _security_definition(d: Doc) -> Message:
    if d.get("type") == "apiKey":
        key = (Message().string(1, "apiKey").string(2, d.get("name")).string(3, d.get("in"))
               .string(4, d.get("description")))
        return Message().message(2, key)
    basic = Message().string(1, d.get("type")).string(2, d.get("description"))
    return Message().message(1, basic)


def _security(requirements: list[Doc]) -> list[Message]:
    out = []
    for req in requirements:
        pairs = [named(k, Message().strings(1, v)) for k, v in sorted(req.items())]
        out.append(Message().messages(1, pairs))
    return out


def document(doc: Doc) -> Message:
    """openapi_v2.Document of a Swagger 2.0 dict."""
    info = doc.get("info") or {}
    paths = [named(p, path_item(v)) for p, v in sorted((doc.get("paths") or {}).items())]
    m = (Message().string(1, doc.get("swagger"))
         .message(2, Message().string(1, info.get("title")).string(2, info.get("version"))
                  .string(3, info.get("description")))
         .string(3, doc.get("host")).string(4, doc.get("basePath"))
         .strings(5, doc.get("schemes")).strings(6, doc.get("consumes"))
         .strings(7, doc.get("produces"))
         .message(8, Message().messages(2, paths))
         .message(9, _named_map(doc.get("definitions") or {}, schema)))
    m.messages(12, _security(doc.get("security") or []))
    if doc.get("securityDefinitions"):
        m.message(13, _named_map(doc["securityDefinitions"], _security_definition))
    return m.messages(16, vendor_extensions(doc))


def encode_document(doc: Doc) -> bytes:
    """The serialized openapi_v2.Document of a Swagger 2.0 dict."""
    return document(doc).encode()
