"""networking.k8s.io/v1 kinds: upstream's ValidateIngress, ValidateIngressClass,
ValidateNetworkPolicy, ValidateServiceCIDR and ValidateIPAddress, with their update
rules (an IngressClass's controller and a ServiceCIDR's ranges are fixed at creation).

Pure functions over the v1 dict form returning every FieldError with its path.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kapi.validation import meta, rules
from kapi.validation.field import (
    FieldError,
    each_object,
    invalid,
    not_supported,
    object_at,
    required,
    spec_immutable,
    too_long,
)

Obj = dict[str, Any]
PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
POLICY_TYPES = ("Egress", "Ingress")



def _spec_of(obj: Obj, key: str) -> Obj | None:
    v = obj.get(key)
    return v if isinstance(v, dict) else None


def _backend(b: Obj, path: str) -> list[FieldError]:
    svc, res = _spec_of(b, "service"), _spec_of(b, "resource")
    if svc is not None and res is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if svc is None and res is None:
        return [invalid(path, "", "resource or service backend is required")]
    if res is not None:
        return [] if res.get("kind") and res.get("name") else \
            [required(f"{path}.resource", "kind and name are required")]
    assert svc is not None
    errs = [invalid(f"{path}.service.name", svc.get("name"), m)
            for m in rules.is_dns1035_label(svc.get("name") or "")]
    port = _spec_of(svc, "port") or {}
    if port.get("name") and port.get("number"):
        errs.append(invalid(f"{path}.service.port", "", "cannot set both port name & port number"))
    elif not port.get("name") and not port.get("number"):
        errs.append(invalid(f"{path}.service.port", "", "port name or number is required"))
    return errs


def _http_path(p: Obj, path: str) -> list[FieldError]:
    ptype, value = p.get("pathType"), p.get("path") or ""
    if ptype is None:
        errs = [required(f"{path}.pathType", "pathType must be specified")]
    elif ptype not in PATH_TYPES:
        errs = [not_supported(f"{path}.pathType", ptype, PATH_TYPES)]
    else:
        errs = []
    if ptype in ("Exact", "Prefix") and not value.startswith("/"):
        errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
    backend = p.get("backend")
    if isinstance(backend, dict):
        errs += _backend(backend, f"{path}.backend")
    else:
        errs.append(required(f"{path}.backend"))
    return errs


def ingress(ing: Obj) -> list[FieldError]:
    spec, errs = object_at(ing, "spec"), []
    if not spec.get("defaultBackend") and not spec.get("rules"):
        errs.append(invalid("spec", "", "either `defaultBackend` or `rules` must be specified"))
    if isinstance(spec.get("defaultBackend"), dict):
        errs += _backend(spec["defaultBackend"], "spec.defaultBackend")
    for rpath, rule in each_object(spec.get("rules"), "spec.rules"):
        host = rule.get("host") or ""
        if host:
            plain = host[2:] if host.startswith("*.") else host
            errs += [invalid(f"{rpath}.host", host, m) for m in rules.is_dns1123_subdomain(plain)]
        http = rule.get("http") if isinstance(rule.get("http"), dict) else None
        if http is not None:
            for ppath, p in each_object(http.get("paths"), f"{rpath}.http.paths"):
                errs += _http_path(p, ppath)
    name = spec.get("ingressClassName")
    if name:
        errs += [invalid("spec.ingressClassName", name, m) for m in rules.is_dns1123_subdomain(name)]
    return errs


def ingress_class(ic: Obj) -> list[FieldError]:
    controller = object_at(ic, "spec").get("controller") or ""
    if not controller:
        return [required("spec.controller")]
    if len(controller) > 250:
        return [too_long("spec.controller", 250)]
    domain, _, rest = controller.partition("/")
    if not rest:
        return [invalid("spec.controller", controller, "must be a domain-prefixed path (such as "
                                                       "\"acme.io/foo\")")]
    return [invalid("spec.controller", controller, m) for m in rules.is_dns1123_subdomain(domain)]


def ingress_class_update(new: Obj, old: Obj) -> list[FieldError]:
    return spec_immutable(new, old, "controller")


def network_policy(np: Obj) -> list[FieldError]:
    spec = object_at(np, "spec")
    errs = meta.validate_label_selector(spec.get("podSelector"), "spec.podSelector")
    for i, t in enumerate(spec.get("policyTypes") or ()):
        if t not in POLICY_TYPES:
            errs.append(not_supported(f"spec.policyTypes[{i}]", t, POLICY_TYPES))
    return errs


def service_cidr(sc: Obj) -> list[FieldError]:
    cidrs = object_at(sc, "spec").get("cidrs") or []
    if not cidrs:
        return [required("spec.cidrs")]
    if len(cidrs) > 2:
        return [invalid("spec", cidrs, "may only hold up to 2 values")]
    errs = []
    for i, c in enumerate(cidrs):
        try:
            ipaddress.ip_network(c, strict=True)
        except ValueError:
            errs.append(invalid(f"spec.cidrs[{i}]", c, "must be a valid CIDR value, (e.g. "
                                                       "10.9.8.0/24 or 2001:db8::/64)"))
    return errs


def service_cidr_update(new: Obj, old: Obj) -> list[FieldError]:
    return spec_immutable(new, old, "cidrs")


def ip_address_name(name: str) -> list[str]:
    """An IPAddress is named by its address in canonical form."""
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    if str(ip) != name:
        return [f"must be in canonical form (\"{ip}\")"]
    return []


def ip_address(ip: Obj) -> list[FieldError]:
    ref = object_at(ip, "spec").get("parentRef")
    if not isinstance(ref, dict):
        return [required("spec.parentRef")]
    errs = []
    for f in ("resource", "name"):
        if not ref.get(f):
            errs.append(required(f"spec.parentRef.{f}"))
    return errs


def ip_address_update(new: Obj, old: Obj) -> list[FieldError]:
    return spec_immutable(new, old, "parentRef")


