"""YAML request bodies as the JSON values upstream's YAML-to-JSON step makes of them.

Upstream converts YAML to JSON before decoding (sigs.k8s.io/yaml over go-yaml v2), so a
body can only hold what JSON holds: mapping keys become strings (`1:` is "1", `true:`
"true"; a null key is refused), timestamps and `!!binary` stay strings, an integer past
64 bits becomes a float, and NaN or infinity cannot be encoded at all. PyYAML's safe
loader makes datetimes, bytes, sets, bool/int/None keys and unbounded ints instead, which
the rest of the server (and orjson) cannot store.

Owns only the construction of values; bounding the work of a document (aliases,
duplicate keys) is kapi.validation.duplicates' job. Never touches the network or HTTP.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

try:
    _Base: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Base = yaml.SafeLoader

U64_MAX = 2**64 - 1
I64_MIN = -(2**63)


class YAMLValueError(ValueError):
    """A YAML value that has no JSON form (upstream's conversion error)."""


class JSONLoader(_Base):  # type: ignore[misc,valid-type]
    """A safe loader whose every value is one JSON can hold."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[str, Any]:
        # built pair by pair: in a Python dict `true` and `1` would be one key
        self.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if type(key) is not str:
                key = _key(key, key_node)
            out[key] = self.construct_object(value_node, deep=deep)
        return out


def _key(k: Any, node: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, bool):
        return "true" if k else "false"
    if isinstance(k, int):
        return str(k)
    if isinstance(k, float):
        return _float_key(k)
    mark = getattr(node, "start_mark", None)
    where = f" (line {mark.line + 1})" if mark is not None else ""
    raise YAMLValueError(f"unsupported map key of type {_go_type(k)}{where}")


def _float_key(f: float) -> str:
    """Go's strconv.FormatFloat(f, 'g', -1, 64), close enough for a key."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    text = repr(f)
    return text[:-2] if text.endswith(".0") else text


def _go_type(v: Any) -> str:
    return "<nil>" if v is None else type(v).__name__


def _construct_int(loader: JSONLoader, node: Any) -> int | float:
    value = yaml.SafeLoader.construct_yaml_int(loader, node)
    # go-yaml reads an integer no int64/uint64 holds as a float64
    if I64_MIN <= value <= U64_MAX:
        return value
    return float(value)


def _construct_float(loader: JSONLoader, node: Any) -> float:
    value = yaml.SafeLoader.construct_yaml_float(loader, node)
    if math.isnan(value) or math.isinf(value):
        raise YAMLValueError(f"json: unsupported value: {_float_key(value)}")
    return value


def _construct_str(loader: JSONLoader, node: Any) -> str:
    return str(loader.construct_scalar(node))


def _construct_binary(loader: JSONLoader, node: Any) -> str:
    raw = yaml.SafeLoader.construct_yaml_binary(loader, node)
    return raw.decode("utf-8", errors="replace")  # as Go's JSON encoder writes []byte-as-string


def _refuse_set(loader: JSONLoader, node: Any) -> None:
    raise YAMLValueError("a YAML !!set has no JSON form")


JSONLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
JSONLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
# go-yaml keeps timestamps read into interface{} as strings, for compatibility
JSONLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_str)
JSONLoader.add_constructor("tag:yaml.org,2002:binary", _construct_binary)
JSONLoader.add_constructor("tag:yaml.org,2002:set", _refuse_set)


def load(raw: bytes | str) -> Any:
    """One YAML document as JSON values; YAMLError or YAMLValueError when it is not."""
    return yaml.load(raw, Loader=JSONLoader)  # noqa: S506 - a safe loader
