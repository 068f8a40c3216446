"""YAML request bodies as the JSON values upstream's YAML-to-JSON step makes of them.

Upstream converts YAML to JSON before decoding (sigs.k8s.io/yaml over go-yaml v2), so a
body can only hold what JSON holds: mapping keys become strings (`1:` is "1", `true:`
"true"; a null key is refused), timestamps and `!!binary` stay strings, an integer past
64 bits becomes a float, and NaN or infinity cannot be encoded at all. PyYAML's safe
loader makes datetimes, bytes, sets, bool/int/None keys and unbounded ints instead, which
the rest of the server (and orjson) cannot store.

Owns only the construction of scalars and keys; building collections with the work
bounded by the input (aliases, depth, duplicate keys) is kapi.validation.yamlload's job,
which uses JSONConstructor for every scalar. Never touches the network or HTTP.
"""

from __future__ import annotations

import math
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

U64_MAX = 2**64 - 1
I64_MIN = -(2**63)


class YAMLValueError(yaml.YAMLError, ValueError):
    """A YAML value that has no JSON form (upstream's conversion error)."""


class JSONConstructor(SafeConstructor):
    """A safe constructor whose every scalar is one JSON can hold."""


def json_key(k: Any, node: Any) -> str:
    """A mapping key as upstream's YAML-to-JSON step writes it; a null (or other
    non-scalar) key has no JSON form."""
    return _key(k, node)


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


def _construct_int(loader: JSONConstructor, node: Any) -> int | float:
    value = yaml.SafeLoader.construct_yaml_int(loader, node)
    # go-yaml reads an integer no int64/uint64 holds as a float64
    if I64_MIN <= value <= U64_MAX:
        return value
    return float(value)


def _construct_float(loader: JSONConstructor, node: Any) -> float:
    value = yaml.SafeLoader.construct_yaml_float(loader, node)
    if math.isnan(value) or math.isinf(value):
        raise YAMLValueError(f"json: unsupported value: {_float_key(value)}")
    return value


def _construct_str(loader: JSONConstructor, node: Any) -> str:
    return str(loader.construct_scalar(node))


def _construct_binary(loader: JSONConstructor, node: Any) -> str:
    raw = yaml.SafeLoader.construct_yaml_binary(loader, node)
    return raw.decode("utf-8", errors="replace")  # as Go's JSON encoder writes []byte-as-string


def _refuse_set(loader: JSONConstructor, node: Any) -> None:
    raise YAMLValueError("a YAML !!set has no JSON form")


# types-PyYAML wants each constructor's first argument to be a full Loader; PyYAML passes the
# constructor instance it is registered on, here a bare JSONConstructor (the stub is too narrow).
JSONConstructor.add_constructor("tag:yaml.org,2002:int", _construct_int)  # type: ignore[type-var]
JSONConstructor.add_constructor("tag:yaml.org,2002:float", _construct_float)  # type: ignore[type-var]
# go-yaml keeps timestamps read into interface{} as strings, for compatibility
JSONConstructor.add_constructor("tag:yaml.org,2002:timestamp", _construct_str)  # type: ignore[type-var]
JSONConstructor.add_constructor("tag:yaml.org,2002:binary", _construct_binary)  # type: ignore[type-var]
JSONConstructor.add_constructor("tag:yaml.org,2002:set", _refuse_set)  # type: ignore[type-var]

SET_TAG = "tag:yaml.org,2002:set"
