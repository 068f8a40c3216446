"""Core (v1) kinds besides Pod: Service, ConfigMap, Secret, Namespace (upstream's
ValidateService, ValidateConfigMap, ValidateSecret, ValidateNamespace and their update
rules: a Service's clusterIP, a Secret's type, an immutable ConfigMap's data).

Pure functions over the v1 dict form returning every FieldError with its path.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from kapi.validation import meta, pod, rules
from kapi.validation.field import (
    FieldError,
    GoValue,
    duplicate,
    each_object,
    forbidden,
    invalid,
    not_supported,
    required,
    too_long,
)

Obj = dict[str, Any]
MAX_SECRET_SIZE = 1024 * 1024
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_SECRET_KEYS = {"kubernetes.io/dockercfg": (".dockercfg",),
                "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
                "kubernetes.io/ssh-auth": ("ssh-privatekey",),
                "kubernetes.io/tls": ("tls.crt", "tls.key")}


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


# -- Service ------------------------------------------------------------------------------
def validate_service(obj: Obj) -> list[FieldError]:
    spec = _spec(obj)
    stype = spec.get("type") or "ClusterIP"
    headless = spec.get("clusterIP") == "None"
    errs: list[FieldError] = []
    if stype not in SERVICE_TYPES:
        errs.append(not_supported("spec.type", stype, SERVICE_TYPES))
    ports = spec.get("ports") or []
    if not ports and not headless and stype != "ExternalName":
        errs.append(required("spec.ports"))
    errs += _service_ports(ports, stype)
    if stype == "ExternalName":
        name = spec.get("externalName") or ""
        if not name:
            errs.append(required("spec.externalName"))
        else:
            errs += [invalid("spec.externalName", name, m)
                     for m in rules.is_dns1123_subdomain(name.rstrip("."))]
    affinity = spec.get("sessionAffinity")
    if affinity is not None and affinity not in ("ClientIP", "None"):
        errs.append(not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None")))
    errs += meta.validate_labels(spec.get("selector"), "spec.selector")
    errs += _cluster_ips(spec)
    for key in ("externalTrafficPolicy", "internalTrafficPolicy"):
        v = spec.get(key)
        if v is not None and v not in ("Cluster", "Local"):
            errs.append(not_supported(f"spec.{key}", v, ("Cluster", "Local")))
    return errs


def _service_ports(ports: list[Any], stype: str) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    keys: set[tuple[Any, Any]] = set()
    for pp, p in each_object(ports, "spec.ports"):
        name = p.get("name") or ""
        if not name and len(ports) > 1:
            errs.append(required(f"{pp}.name"))
        elif name:
            errs += [invalid(f"{pp}.name", name, m) for m in rules.is_dns1123_label(name)]
            if name in names:
                errs.append(duplicate(f"{pp}.name", name))
            names.add(name)
        port = p.get("port")
        if isinstance(port, int):
            errs += [invalid(f"{pp}.port", port, m) for m in rules.is_port_num(port)]
        else:
            errs.append(required(f"{pp}.port"))
        proto = p.get("protocol")
        if proto is not None and proto not in pod.PROTOCOLS:
            errs.append(not_supported(f"{pp}.protocol", proto, pod.PROTOCOLS))
        if (port, proto) in keys:
            errs.append(duplicate(pp, GoValue(f"core.ServicePort{{Protocol:{proto!r}, "
                                              f"Port:{port}}}".replace("'", '"'))))
        keys.add((port, proto))
        errs += _target_port(p.get("targetPort"), f"{pp}.targetPort")
        errs += _node_port(p.get("nodePort"), stype, f"{pp}.nodePort")
    return errs


def _target_port(tp: Any, path: str) -> list[FieldError]:
    if isinstance(tp, str):
        return [invalid(path, tp, m) for m in rules.is_port_name(tp)]
    if isinstance(tp, int):
        return [invalid(path, tp, m) for m in rules.is_port_num(tp)]
    return []


def _node_port(np: Any, stype: str, path: str) -> list[FieldError]:
    if not np:
        return []
    if stype in ("ClusterIP", "ExternalName"):
        return [forbidden(path, f"may not be used when `type` is '{stype}'")]
    return []  # the range is the allocator's (kapi/admission/serviceips.py), as upstream


def _cluster_ips(spec: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    ip = spec.get("clusterIP")
    if ip and ip != "None":
        errs += [invalid("spec.clusterIPs[0]", ip, m) for m in rules.is_ip(ip)]
    ips = spec.get("clusterIPs") or []
    if ip and ips and ips[0] != ip:
        errs.append(invalid("spec.clusterIPs", GoValue(_go_strings(ips)),
                            "first value must match `clusterIP`"))
    return errs


def _go_strings(values: list[Any]) -> str:
    return "[]string{" + ", ".join(json.dumps(str(v)) for v in values) + "}"


def normalize_service_update(new: Obj, old: Obj) -> Obj:
    """As upstream's normalizeClusterIPs: a client that changed only clusterIP meant
    clusterIPs too (a copy; the object is not touched)."""
    sn, so = _spec(new), _spec(old)
    ips, old_ip = sn.get("clusterIPs") or [], so.get("clusterIP")
    if sn.get("clusterIP") and sn.get("clusterIP") != old_ip and ips and ips[0] == old_ip:
        return {**new, "spec": {**sn, "clusterIPs": [sn["clusterIP"]] + list(ips[1:])}}
    return new


def validate_service_update(new: Obj, old: Obj) -> list[FieldError]:
    sn, so = _spec(new), _spec(old)
    if "ExternalName" in (sn.get("type"), so.get("type")):
        return []
    old_ip, new_ip = so.get("clusterIP"), sn.get("clusterIP")
    if old_ip and new_ip and old_ip != new_ip and not (old_ip == new_ip == "None"):
        ips = [new_ip] + list((sn.get("clusterIPs") or [])[1:])
        return [invalid("spec.clusterIPs[0]", GoValue(_go_strings(ips)),
                        "may not change once set")]
    return []


# -- ConfigMap and Secret -----------------------------------------------------------------
def _keys(data: Any, other: Any, bag: str, other_bag: str) -> tuple[list[FieldError], int]:
    errs: list[FieldError] = []
    size = 0
    others = other or {}
    for key, value in sorted((data or {}).items()):
        msgs = rules.is_config_key(key)
        if msgs:
            errs += [invalid(f"{bag}[{key}]", key, m) for m in msgs]
        if key in others:
            errs.append(invalid(f"{bag}[{key}]", key, f"duplicate of key present in {other_bag}"))
        size += len(value) if isinstance(value, str) else 0
    return errs, size


def validate_configmap(obj: Obj) -> list[FieldError]:
    data, binary = obj.get("data"), obj.get("binaryData")
    errs, size = _keys(data, binary, "data", "binaryData")
    more, size2 = _keys(binary, data, "binaryData", "data")
    errs += more
    if size + size2 * 3 // 4 > MAX_SECRET_SIZE:
        errs.append(too_long("", MAX_SECRET_SIZE))
    return errs


def _immutable_data(new: Obj, old: Obj, bags: tuple[str, ...]) -> list[FieldError]:
    if not old.get("immutable"):
        return []
    errs: list[FieldError] = []
    if not new.get("immutable"):
        errs.append(forbidden("immutable", "field is immutable when `immutable` is set"))
    for bag in bags:
        if (new.get(bag) or {}) != (old.get(bag) or {}):
            errs.append(forbidden(bag, "field is immutable when `immutable` is set"))
    return errs


def validate_configmap_update(new: Obj, old: Obj) -> list[FieldError]:
    return _immutable_data(new, old, ("data", "binaryData"))


def validate_secret(obj: Obj) -> list[FieldError]:
    data = obj.get("data") or {}
    errs, _ = _keys(data, None, "data", "")
    size = sum(_decoded_len(v) for v in data.values())
    if size > MAX_SECRET_SIZE:
        errs.append(too_long("data", MAX_SECRET_SIZE))
    stype = obj.get("type") or "Opaque"
    for key in _SECRET_KEYS.get(stype, ()):
        if key not in data:
            errs.append(required(f"data[{key}]"))
    if stype == "kubernetes.io/service-account-token":
        ann = (obj.get("metadata") or {}).get("annotations") or {}
        if not ann.get("kubernetes.io/service-account.name"):
            errs.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    if stype == "kubernetes.io/basic-auth" and not ({"username", "password"} & set(data)):
        errs.append(required("data[username]", "must have at least one of username or password"))
    return errs


def _decoded_len(value: Any) -> int:
    if not isinstance(value, str):
        return 0
    try:
        return len(base64.b64decode(value))
    except (binascii.Error, ValueError):
        return len(value)


def validate_secret_update(new: Obj, old: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    tn, to = new.get("type") or "Opaque", old.get("type") or "Opaque"
    if tn != to:
        errs.append(invalid("type", tn, "field is immutable"))
    return errs + _immutable_data(new, old, ("data",))


def validate_namespace(obj: Obj) -> list[FieldError]:
    return [invalid("spec.finalizers", f, m)
            for f in _spec(obj).get("finalizers") or ()
            for m in rules.is_qualified_name(str(f))]
