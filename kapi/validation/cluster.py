"""Cluster-policy kinds: PriorityClasses, RuntimeClasses, CertificateSigningRequests,
FlowSchemas and PriorityLevelConfigurations (upstream's ValidatePriorityClass,
ValidateRuntimeClass, ValidateCertificateSigningRequest, ValidateFlowSchema and
ValidatePriorityLevelConfiguration, with their update rules).

Pure functions over the v1 dict form returning every FieldError with its path.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from kapi.validation import meta, rules
from kapi.validation.field import (
    FieldError,
    duplicate,
    each_object,
    forbidden,
    invalid,
    not_supported,
    object_at,
    required,
)

Obj = dict[str, Any]
SYSTEM_PREFIX = "system-"
HIGHEST_USER_PRIORITY = 1_000_000_000
# scheduling.SystemPriorityClasses(): name -> value (neither is the global default)
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2_000_001_000,
                           "system-cluster-critical": 2_000_000_000}
PREEMPTION_POLICIES = ("Never", "PreemptLowerPriority")
KEY_USAGES = ("signing", "digital signature", "content commitment", "key encipherment",
              "key agreement", "data encipherment", "cert sign", "crl sign", "encipher only",
              "decipher only", "any", "server auth", "client auth", "code signing",
              "email protection", "s/mime", "ipsec end system", "ipsec tunnel", "ipsec user",
              "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc")
CONDITION_STATUSES = ("False", "True", "Unknown")
PLC_TYPES = ("Exempt", "Limited")
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)



# -- scheduling.k8s.io ------------------------------------------------------------------
def _system_class_problem(name: str, value: Any, global_default: Any) -> str:
    """scheduling.IsKnownSystemPriorityClass's error, or "" for a known system class."""
    if name not in SYSTEM_PRIORITY_CLASSES:
        return f"name {name} is not a known system priority class"
    if value != SYSTEM_PRIORITY_CLASSES[name]:
        return f"value of {name} PriorityClass must be {SYSTEM_PRIORITY_CLASSES[name]}"
    if bool(global_default):
        return f"globalDefault of {name} PriorityClass must be false"
    return ""


def priority_class(pc: Obj) -> list[FieldError]:
    name = (pc.get("metadata") or {}).get("name") or ""
    value, errs = pc.get("value", 0), []
    if name.startswith(SYSTEM_PREFIX):
        problem = _system_class_problem(name, value, pc.get("globalDefault"))
        if problem:
            errs.append(forbidden("metadata.name", "priority class names with 'system-' prefix "
                                  f"are reserved for system use only. error: {problem}"))
    elif isinstance(value, int) and value > HIGHEST_USER_PRIORITY:
        errs.append(forbidden("value", "maximum allowed value of a user defined priority is "
                              f"{HIGHEST_USER_PRIORITY}"))
    policy = pc.get("preemptionPolicy")
    if policy is not None and policy not in PREEMPTION_POLICIES:
        errs.append(not_supported("preemptionPolicy", policy, PREEMPTION_POLICIES))
    return errs


def priority_class_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = []
    if new.get("value") != old.get("value"):
        errs.append(forbidden("value", "may not be changed in an update."))
    if new.get("preemptionPolicy") != old.get("preemptionPolicy"):
        errs.append(invalid("preemptionPolicy", new.get("preemptionPolicy"),
                            "field is immutable"))
    return errs


# -- node.k8s.io ------------------------------------------------------------------------
def runtime_class(rc: Obj) -> list[FieldError]:
    handler = rc.get("handler")
    errs = [required("handler")] if not handler else \
        [invalid("handler", handler, m) for m in rules.is_dns1123_label(handler)]
    scheduling = object_at(rc, "scheduling")
    errs += meta.validate_labels(scheduling.get("nodeSelector"), "scheduling.nodeSelector")
    return errs


def runtime_class_update(new: Obj, old: Obj) -> list[FieldError]:
    if new.get("handler") != old.get("handler"):
        return [invalid("handler", new.get("handler"), "field is immutable")]
    return []


# -- certificates.k8s.io ----------------------------------------------------------------
def _pem_blocks(data: Any) -> list[str] | None:
    """The PEM block types of a base64 []byte field; None when it is not base64."""
    try:
        raw = base64.b64decode(data or "", validate=True)
    except (binascii.Error, ValueError):
        return None
    return [m.group(1).decode() for m in _PEM.finditer(raw)]


def _signer_name(value: Any) -> list[FieldError]:
    path = "spec.signerName"
    if not value:
        return [required(path)]
    domain, _, rest = str(value).partition("/")
    if not rest:
        return [invalid(path, value, "must be a fully qualified domain and path of the form "
                                     "'example.com/signer-name'")]
    return [invalid(path, value, m) for m in rules.is_dns1123_subdomain(domain)]


def csr(c: Obj) -> list[FieldError]:
    spec = object_at(c, "spec")
    errs = _signer_name(spec.get("signerName"))
    blocks = _pem_blocks(spec.get("request"))
    if not spec.get("request"):
        errs.append(required("spec.request"))
    elif blocks is None or "CERTIFICATE REQUEST" not in blocks:
        errs.append(invalid("spec.request", "[]byte{...}",
                            "PEM block type must be CERTIFICATE REQUEST"))
    usages = spec.get("usages")
    if not usages:
        errs.append(required("spec.usages"))
    for i, u in enumerate(usages or ()):
        if u not in KEY_USAGES:
            errs.append(not_supported(f"spec.usages[{i}]", u, KEY_USAGES))
    seconds = spec.get("expirationSeconds")
    if isinstance(seconds, int) and seconds < 600:
        errs.append(invalid("spec.expirationSeconds", seconds,
                            "may not specify a duration less than 600 seconds (10 minutes)"))
    return errs + csr_status(c)


def csr_status(c: Obj) -> list[FieldError]:
    status = object_at(c, "status")
    errs, seen = [], set()
    for path, cond in each_object(status.get("conditions"), "status.conditions"):
        ctype, cstatus = cond.get("type"), cond.get("status")
        if not ctype:
            errs.append(required(f"{path}.type"))
        if not cstatus:
            errs.append(required(f"{path}.status"))
        elif cstatus not in CONDITION_STATUSES:
            errs.append(not_supported(f"{path}.status", cstatus, CONDITION_STATUSES))
        if ctype in ("Approved", "Denied", "Failed"):
            if ctype in seen:
                errs.append(duplicate(f"{path}.type", ctype))
            seen.add(ctype)
            if ctype != "Failed" and cstatus and cstatus != "True":
                errs.append(not_supported(f"{path}.status", cstatus, ("True",)))
    if {"Approved", "Denied"} <= seen:
        errs.append(invalid("status.conditions", "", "Approved and Denied conditions are "
                                                     "mutually exclusive"))
    cert = status.get("certificate")
    if cert:
        blocks = _pem_blocks(cert)
        if not blocks or set(blocks) != {"CERTIFICATE"}:
            errs.append(invalid("status.certificate", "<certificate data>",
                                "must contain at least one CERTIFICATE PEM block"))
    return errs


def csr_update(new: Obj, old: Obj) -> list[FieldError]:
    """An approval or status write may not drop an Approved or Denied condition."""
    kept = {c.get("type") for c in ((new.get("status") or {}).get("conditions") or ())
            if isinstance(c, dict)}
    errs = []
    for c in (old.get("status") or {}).get("conditions") or ():
        if isinstance(c, dict) and c.get("type") in ("Approved", "Denied") and \
                c.get("type") not in kept:
            errs.append(forbidden("status.conditions",
                                  f'updates may not remove a condition of type "{c["type"]}"'))
    return errs


# -- flowcontrol.apiserver.k8s.io -------------------------------------------------------
def flow_schema(fs: Obj) -> list[FieldError]:
    spec = object_at(fs, "spec")
    errs = []
    if not (spec.get("priorityLevelConfiguration") or {}).get("name"):
        errs.append(required("spec.priorityLevelConfiguration.name",
                             "must reference a priority level"))
    mp = spec.get("matchingPrecedence")
    if isinstance(mp, int) and not 1 <= mp <= 10000:
        errs.append(invalid("spec.matchingPrecedence", mp, "must be between 1 and 10000"))
    method = (spec.get("distinguisherMethod") or {}).get("type")
    if method is not None and method not in ("ByNamespace", "ByUser"):
        errs.append(not_supported("spec.distinguisherMethod.type", method,
                                  ("ByNamespace", "ByUser")))
    return errs


def priority_level(plc: Obj) -> list[FieldError]:
    spec = object_at(plc, "spec")
    ptype = spec.get("type")
    if ptype not in PLC_TYPES:
        return [not_supported("spec.type", ptype, PLC_TYPES)]
    if ptype == "Limited" and spec.get("limited") is None:
        return [required("spec.limited", "must not be empty when type is Limited")]
    if ptype == "Exempt" and spec.get("limited") is not None:
        return [forbidden("spec.limited", "must be nil if the type is not Limited")]
    return []
