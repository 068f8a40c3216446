"""Environment variables a container takes from objects other than its pod: ConfigMap and
Secret keys (configMapKeyRef, secretKeyRef, envFrom) and the Services of its namespace
(upstream's docker-links style `FOO_SERVICE_HOST`, `FOO_PORT_80_TCP_ADDR`, ...).

Pure functions over the objects the kubelet already read (`Sources`); a reference that
cannot be resolved raises `ConfigError` carrying upstream's message, which the kubelet
reports as CreateContainerConfigError. It must never do I/O.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
MASTER_SERVICES = ("kubernetes",)  # from the default namespace, whatever enableServiceLinks
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class ConfigError(Exception):
    """A container's configuration cannot be built (CreateContainerConfigError)."""


@dataclass
class Sources:
    """The objects a pod refers to, as read from the API: name -> object (None: absent)."""
    configmaps: dict[str, Obj | None] = field(default_factory=dict)
    secrets: dict[str, Obj | None] = field(default_factory=dict)
    services: list[Obj] = field(default_factory=list)   # pod's namespace + master services
    # service-account tokens by projection (runtime/kubelet/tokens.py projection_key)
    tokens: dict[str, str] = field(default_factory=dict)
    # persistentVolumeClaim volumes: claim name -> host directory (runtime/kubelet/claims.py)
    claims: dict[str, str] = field(default_factory=dict)


def secret_data(secret: Obj) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}


def configmap_data(cm: Obj) -> dict[str, bytes]:
    out = {k: str(v).encode() for k, v in (cm.get("data") or {}).items()}
    out |= {k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()}
    return out


def _lookup(kind: str, objects: dict[str, Obj | None], ns: str, name: str) -> Obj:
    obj = objects.get(name)
    if obj is None:
        raise ConfigError(f'{kind.lower()} "{name}" not found')
    return obj


def key_ref(ref: Obj, kind: str, sources: Sources, ns: str) -> str | None:
    """configMapKeyRef/secretKeyRef: the value, None when optional and absent."""
    objects = sources.configmaps if kind == "ConfigMap" else sources.secrets
    name, key, optional = ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional"))
    obj = objects.get(name)
    if obj is None:
        if optional:
            return None
        _lookup(kind, objects, ns, name)
    assert obj is not None
    data = configmap_data(obj) if kind == "ConfigMap" else secret_data(obj)
    if key not in data:
        if optional:
            return None
        raise ConfigError(f"couldn't find key {key} in {kind} {ns}/{name}")
    return data[key].decode(errors="replace")


def env_from(container: Obj, sources: Sources, ns: str) -> tuple[dict[str, str], list[str]]:
    """envFrom: (variables, warnings for the InvalidEnvironmentVariableNames events)."""
    env: dict[str, str] = {}
    warnings: list[str] = []
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix", "")
        kind, ref = (("ConfigMap", src["configMapRef"]) if "configMapRef" in src
                     else ("Secret", src.get("secretRef") or {}))
        objects = sources.configmaps if kind == "ConfigMap" else sources.secrets
        name = ref.get("name", "")
        obj = objects.get(name)
        if obj is None:
            if ref.get("optional"):
                continue
            _lookup(kind, objects, ns, name)
        assert obj is not None
        data = configmap_data(obj) if kind == "ConfigMap" else secret_data(obj)
        invalid = []
        for k, v in data.items():
            k = prefix + k
            if not _ENV_NAME.match(k):
                invalid.append(k)
                continue
            env[k] = v.decode(errors="replace")
        if invalid:
            warnings.append(f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom "
                            f"{kind.lower()} {ns}/{name} were skipped since they are "
                            "considered invalid environment variable names.")
    return env, warnings


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def service_env(services: list[Obj], ns: str, enable_links: bool) -> dict[str, str]:
    """Upstream's envvars.FromServices over the services a pod sees: those of its
    namespace (when enableServiceLinks) and the master service from default."""
    chosen: dict[str, Obj] = {}
    for svc in services:
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        ip = spec.get("clusterIP") or ""
        if not ip or ip == "None":
            continue
        name, sns = meta.get("name", ""), meta.get("namespace", "")
        if sns == "default" and name in MASTER_SERVICES:
            chosen.setdefault(name, svc)
        elif sns == ns and enable_links:
            chosen[name] = svc
    env: dict[str, str] = {}
    for name in sorted(chosen):
        env |= _one_service(chosen[name])
    return env


def _one_service(svc: Obj) -> dict[str, str]:
    spec = svc.get("spec") or {}
    prefix = svc["metadata"]["name"].upper().replace("-", "_")
    host, ports = spec["clusterIP"], spec.get("ports") or []
    env = {f"{prefix}_SERVICE_HOST": host}
    if ports:
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port", ""))
    for p in ports:
        if p.get("name"):
            pname = p["name"].upper().replace("-", "_")
            env[f"{prefix}_SERVICE_PORT_{pname}"] = str(p.get("port", ""))
    for i, p in enumerate(ports):
        proto = str(p.get("protocol") or "TCP")
        url = f"{proto.lower()}://{_host_port(host, int(p.get('port', 0)))}"
        port_prefix = f"{prefix}_PORT_{p.get('port')}_{proto.upper()}"
        if i == 0:
            env[f"{prefix}_PORT"] = url
        env |= {port_prefix: url, f"{port_prefix}_PROTO": proto.lower(),
                f"{port_prefix}_PORT": str(p.get("port")), f"{port_prefix}_ADDR": host}
    return env


def referenced(pod: Obj) -> tuple[set[str], set[str]]:
    """(configMap names, secret names) the pod's env, envFrom and volumes refer to."""
    cms: set[str] = set()
    secrets: set[str] = set()
    spec = pod.get("spec") or {}
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        for var in c.get("env") or []:
            src = var.get("valueFrom") or {}
            if "configMapKeyRef" in src:
                cms.add(src["configMapKeyRef"].get("name", ""))
            if "secretKeyRef" in src:
                secrets.add(src["secretKeyRef"].get("name", ""))
        for src in c.get("envFrom") or []:
            if "configMapRef" in src:
                cms.add(src["configMapRef"].get("name", ""))
            if "secretRef" in src:
                secrets.add(src["secretRef"].get("name", ""))
    for vol in spec.get("volumes") or []:
        sources = [vol] + [s for s in (vol.get("projected") or {}).get("sources") or []]
        for s in sources:
            if "configMap" in s:
                cms.add(s["configMap"].get("name", ""))
            if "secret" in s:
                secrets.add(s["secret"].get("secretName") or s["secret"].get("name", ""))
    return cms - {""}, secrets - {""}
