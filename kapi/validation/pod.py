"""Pod spec validation: upstream's ValidatePodSpec, validateContainers, validateVolumes,
validateResourceRequirements, tolerations and probes (pkg/apis/core/validation), and
ValidatePodUpdate's rule that a running pod's spec is immutable but for a few fields.

Pure functions over the v1 dict form, returning every FieldError with its path.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import orjson

from kapi.validation import meta, quantity, rules
from kapi.validation.field import (
    FieldError,
    duplicate,
    each_object,
    forbidden,
    invalid,
    not_found,
    not_supported,
    required,
)

Obj = dict[str, Any]

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("SCTP", "TCP", "UDP")
MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
VOLUME_SOURCES = ("hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore",
                  "gitRepo", "secret", "nfs", "iscsi", "glusterfs", "persistentVolumeClaim",
                  "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
                  "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk",
                  "photonPersistentDisk", "projected", "portworxVolume", "scaleIO",
                  "storageos", "csi", "ephemeral", "image")
PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
POD_UPDATE_MESSAGE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow "
    "it to be set to 1 if it was previously negative)")
MAX_INT32 = 2**31 - 1


def validate_pod_spec(spec: Any, path: str) -> list[FieldError]:
    """Every error of a pod spec; memoized on the spec's JSON, since the same template
    comes back on every update of a workload and on every pod its controller makes."""
    if not isinstance(spec, dict):
        return [required(path)]
    try:
        key = orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return _validate_pod_spec(spec, path)
    return list(_cached_pod_spec(key, path))


@functools.lru_cache(maxsize=1024)
def _cached_pod_spec(key: bytes, path: str) -> tuple[FieldError, ...]:
    return tuple(_validate_pod_spec(orjson.loads(key), path))


def _validate_pod_spec(spec: Obj, path: str) -> list[FieldError]:
    volumes, errs = validate_volumes(spec.get("volumes"), f"{path}.volumes")
    host_net = bool(spec.get("hostNetwork"))
    containers = spec.get("containers") or []
    if not containers:
        errs.append(required(f"{path}.containers"))
    names: set[str] = set()
    for field in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(field) or ()):
            errs += validate_container(c, f"{path}.{field}[{i}]", volumes, names, host_net)
    errs += _container_restart_policies(spec, path)
    errs += _enum(spec, "restartPolicy", RESTART_POLICIES, path)
    errs += _enum(spec, "dnsPolicy", DNS_POLICIES, path)
    if spec.get("dnsPolicy") == "None" and not spec.get("dnsConfig"):
        errs.append(required(f"{path}.dnsConfig", "must provide `dnsConfig` when "
                                                  "`dnsPolicy` is None"))
    errs += meta.validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    errs += _pod_names(spec, path)
    ads = spec.get("activeDeadlineSeconds")
    if isinstance(ads, int) and not 1 <= ads <= MAX_INT32:
        errs.append(invalid(f"{path}.activeDeadlineSeconds", ads, rules.range_error(1, MAX_INT32)))
    errs += validate_tolerations(spec.get("tolerations"), f"{path}.tolerations")
    errs += _security_context(spec.get("securityContext"), f"{path}.securityContext")
    return errs


def _container_restart_policies(spec: Obj, path: str) -> list[FieldError]:
    """A container's restartPolicy makes an init container a sidecar (Always, the only
    value); only sidecars among init containers may have probes and lifecycle hooks."""
    errs: list[FieldError] = []
    for i, c in enumerate(spec.get("initContainers") or ()):
        where = f"{path}.initContainers[{i}]"
        if not isinstance(c, dict) or c.get("restartPolicy") == "Always":
            continue
        if c.get("restartPolicy") is not None:
            errs.append(not_supported(f"{where}.restartPolicy", c["restartPolicy"],
                                      ("Always",)))
        errs += [forbidden(f"{where}.{k}", "may not be set for init containers without "
                                           "restartPolicy=Always")
                 for k in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe")
                 if c.get(k) is not None]
    for i, c in enumerate(spec.get("containers") or ()):
        if isinstance(c, dict) and c.get("restartPolicy") is not None:
            errs.append(forbidden(f"{path}.containers[{i}].restartPolicy",
                                  "may not be set for non-init containers"))
    return errs


def _enum(obj: Obj, key: str, valid: tuple[str, ...], path: str) -> list[FieldError]:
    value = obj.get(key)
    if value is None or value == "":
        return [required(f"{path}.{key}")] if key in obj or value == "" else []
    return [] if value in valid else [not_supported(f"{path}.{key}", value, valid)]


def _pod_names(spec: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key, rule in (("serviceAccountName", rules.is_dns1123_subdomain),
                      ("hostname", rules.is_dns1123_label),
                      ("subdomain", rules.is_dns1123_label)):
        value = spec.get(key)
        if value:
            errs += [invalid(f"{path}.{key}", value, m) for m in rule(str(value))]
    return errs


# -- containers ---------------------------------------------------------------------------
def _unique_label(name: Any, path: str, seen: set[str]) -> list[FieldError]:
    """A required DNS-1123 label name, unique among `seen` (which it then joins): the
    rule for container and volume names."""
    if not name:
        return [required(path)]
    errs = [invalid(path, name, m) for m in rules.is_dns1123_label(name)]
    if name in seen:
        errs.append(duplicate(path, name))
    seen.add(name)
    return errs


def validate_container(c: Any, path: str, volumes: set[str], names: set[str],
                       host_net: bool) -> list[FieldError]:
    if not isinstance(c, dict):
        return [required(path)]
    errs = _unique_label(c.get("name"), f"{path}.name", names)
    if not c.get("image"):
        errs.append(required(f"{path}.image"))
    errs += _enum(c, "imagePullPolicy", PULL_POLICIES, path)
    errs += _enum(c, "terminationMessagePolicy", MESSAGE_POLICIES, path)
    errs += validate_ports(c.get("ports"), f"{path}.ports", host_net)
    errs += validate_env(c.get("env"), f"{path}.env")
    errs += validate_volume_mounts(c.get("volumeMounts"), f"{path}.volumeMounts", volumes)
    errs += validate_resources(c.get("resources"), f"{path}.resources")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        errs += validate_probe(c.get(probe), f"{path}.{probe}", probe != "readinessProbe")
    errs += _security_context(c.get("securityContext"), f"{path}.securityContext")
    return errs


def validate_ports(ports: Any, path: str, host_net: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    for pp, p in each_object(ports, path):
        if p.get("name"):
            errs += [invalid(f"{pp}.name", p["name"], m) for m in rules.is_port_name(p["name"])]
            if p["name"] in names:
                errs.append(duplicate(f"{pp}.name", p["name"]))
            names.add(p["name"])
        cp = p.get("containerPort")
        if not cp:
            errs.append(required(f"{pp}.containerPort"))
        elif isinstance(cp, int):
            errs += [invalid(f"{pp}.containerPort", cp, m) for m in rules.is_port_num(cp)]
        hp = p.get("hostPort")
        if hp:
            errs += [invalid(f"{pp}.hostPort", hp, m) for m in rules.is_port_num(hp)]
            if host_net and hp != cp:
                errs.append(invalid(f"{pp}.hostPort", hp, "must match `containerPort` when "
                                                          "`hostNetwork` is true"))
        errs += _enum(p, "protocol", PROTOCOLS, pp)
    return errs


def validate_env(env: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for pe, e in each_object(env, path):
        name = e.get("name") or ""
        if not name:
            errs.append(required(f"{pe}.name"))
        errs += [invalid(f"{pe}.name", name, m) for m in rules.is_relaxed_env_var_name(name)
                 if name]
        source = e.get("valueFrom")
        if isinstance(source, dict):
            n = sum(1 for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef",
                                "secretKeyRef", "fileKeyRef") if source.get(k))
            if e.get("value"):
                errs.append(invalid(f"{pe}.valueFrom", "", "may not be specified when "
                                                           "`value` is not empty"))
            elif n == 0:
                errs.append(invalid(f"{pe}.valueFrom", "", "must specify one of: `fieldRef`, "
                                    "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
            elif n > 1:
                errs.append(invalid(f"{pe}.valueFrom", "", "may not have more than one field "
                                                           "specified at a time"))
    return errs


def validate_volume_mounts(mounts: Any, path: str, volumes: set[str]) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for pm, m in each_object(mounts, path):
        name, mount_path = m.get("name") or "", m.get("mountPath") or ""
        if not name:
            errs.append(required(f"{pm}.name"))
        elif name not in volumes:
            errs.append(not_found(f"{pm}.name", name))
        if not mount_path:
            errs.append(required(f"{pm}.mountPath"))
        elif mount_path in seen:
            errs.append(invalid(f"{pm}.mountPath", mount_path, "must be unique"))
        seen.add(mount_path)
    return errs


def validate_resources(res: Any, path: str) -> list[FieldError]:
    if not isinstance(res, dict):
        return []
    errs: list[FieldError] = []
    parsed: dict[str, dict[str, Any]] = {}
    for part in ("limits", "requests"):
        parsed[part] = {}
        for name, value in sorted((res.get(part) or {}).items()):
            pv = f"{path}.{part}[{name}]"
            errs += [invalid(pv, name, m) for m in _resource_name(name)]
            try:
                q = quantity.parse(value)
            except quantity.QuantityError as e:
                errs.append(invalid(pv, value, str(e)))
                continue
            if q < 0:
                errs.append(invalid(pv, str(value), "must be greater than or equal to 0"))
            parsed[part][name] = (q, value)
    for name, (req, text) in parsed["requests"].items():
        lim = parsed["limits"].get(name)
        if lim is not None and req > lim[0]:
            errs.append(invalid(f"{path}.requests", str(text),
                                f"must be less than or equal to {name} limit of {lim[1]}"))
    return errs


def _resource_name(name: str) -> list[str]:
    if "/" not in name and name not in ("cpu", "memory", "ephemeral-storage", "storage",
                                        "pods") and not name.startswith("hugepages-"):
        return ["must be a standard resource type or fully qualified"]
    return list(rules.is_qualified_name(name))


def validate_probe(probe: Any, path: str, success_must_be_one: bool) -> list[FieldError]:
    if not isinstance(probe, dict):
        return []
    errs: list[FieldError] = []
    handlers = [h for h in PROBE_HANDLERS if probe.get(h) is not None]
    if not handlers:
        errs.append(required(path, "must specify a handler type"))
    elif len(handlers) > 1:
        errs.append(forbidden(f"{path}.{handlers[1]}", "may not specify more than 1 handler type"))
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                "failureThreshold"):
        v = probe.get(key)
        if isinstance(v, int) and v < 0:
            errs.append(invalid(f"{path}.{key}", v, "must be greater than or equal to 0"))
    st = probe.get("successThreshold")
    if success_must_be_one and isinstance(st, int) and st != 1:
        errs.append(invalid(f"{path}.successThreshold", st, "must be 1"))
    return errs


def _security_context(sc: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("runAsUser", "runAsGroup", "fsGroup"):
        v = (sc or {}).get(key) if isinstance(sc, dict) else None
        if isinstance(v, int) and not 0 <= v <= MAX_INT32:
            errs.append(invalid(f"{path}.{key}", v, rules.range_error(0, MAX_INT32)))
    return errs


# -- volumes and tolerations --------------------------------------------------------------
def validate_volumes(volumes: Any, path: str) -> tuple[set[str], list[FieldError]]:
    names: set[str] = set()
    errs: list[FieldError] = []
    for pv, v in each_object(volumes, path):
        errs += _unique_label(v.get("name"), f"{pv}.name", names)
        sources = [s for s in VOLUME_SOURCES if v.get(s) is not None]
        if not sources:
            errs.append(required(pv, "must specify a volume type"))
        for extra in sources[1:]:
            errs.append(forbidden(f"{pv}.{extra}", "may not specify more than 1 volume type"))
    return names, errs


def validate_tolerations(tols: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for pt, t in each_object(tols, path):
        key, op, effect = t.get("key") or "", t.get("operator") or "", t.get("effect") or ""
        if key:
            errs += [invalid(f"{pt}.key", key, m) for m in rules.is_qualified_name(key)]
        elif op != "Exists":
            errs.append(invalid(f"{pt}.operator", op, "operator must be Exists when `key` is "
                                "empty, which means \"match all values and all keys\""))
        if op == "Exists" and t.get("value"):
            errs.append(invalid(f"{pt}.operator", t.get("value"), "value must be empty when "
                                                                  "`operator` is 'Exists'"))
        elif op not in ("", "Equal", "Exists"):
            errs.append(not_supported(f"{pt}.operator", op, ("Equal", "Exists")))
        if t.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(invalid(f"{pt}.effect", effect, "effect must be 'NoExecute' when "
                                                        "`tolerationSeconds` is set"))
        if effect and effect not in TAINT_EFFECTS:
            errs.append(not_supported(f"{pt}.effect", effect, TAINT_EFFECTS))
    return errs


# -- update -------------------------------------------------------------------------------
def validate_pod_spec_update(new: Any, old: Any, path: str = "spec") -> list[FieldError]:
    """A pod's spec may change only in images, activeDeadlineSeconds, added tolerations and
    a negative grace period raised to 1 (ValidatePodUpdate)."""
    if not isinstance(new, dict) or not isinstance(old, dict):
        return []
    masked = copy.deepcopy(new)
    for field in ("containers", "initContainers"):
        for c_new, c_old in zip(masked.get(field) or [], old.get(field) or [], strict=False):
            if isinstance(c_new, dict) and isinstance(c_old, dict):
                c_new["image"] = c_old.get("image")
    for key in ("activeDeadlineSeconds",):
        if key in old or key in masked:
            _copy_key(masked, old, key)
    old_tols = old.get("tolerations") or []
    if all(t in (masked.get("tolerations") or []) for t in old_tols):
        _copy_key(masked, old, "tolerations")
    grace_old, grace_new = old.get("terminationGracePeriodSeconds"), masked.get(
        "terminationGracePeriodSeconds")
    if isinstance(grace_old, int) and grace_old < 0 and grace_new == 1:
        _copy_key(masked, old, "terminationGracePeriodSeconds")
    if masked == old:
        return []
    return [forbidden(path, POD_UPDATE_MESSAGE)]


def _copy_key(dst: Obj, src: Obj, key: str) -> None:
    if key in src:
        dst[key] = src[key]
    else:
        dst.pop(key, None)
