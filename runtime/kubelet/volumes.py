"""What a pod's configMap, secret, downwardAPI and projected volumes hold: pure payloads.

`payload(pod, volume, sources)` returns the files of one such volume as relative path ->
(bytes, mode), with upstream's rules for items/keys, optional sources, defaultMode and
per-item modes, and the downward API's formats; an unresolvable reference raises
`MountError` with upstream's message (the kubelet reports FailedMount and retries).
It also names the volume plugins' directories. It must never do I/O.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable, Mapping

from runtime.kubelet.envsources import Sources, configmap_data, secret_data
from runtime.kubelet.tokens import projection_key
from runtime.scheduler.quantity import parse

Obj = dict[str, Any]
Payload = dict[str, tuple[bytes, int]]
DEFAULT_MODE = 0o644
ATOMIC = ("configMap", "secret", "downwardAPI", "projected")  # written by the AtomicWriter
PLUGIN_DIRS = {"emptyDir": "kubernetes.io~empty-dir", "hostPath": "kubernetes.io~host-path",
               "configMap": "kubernetes.io~configmap", "secret": "kubernetes.io~secret",
               "downwardAPI": "kubernetes.io~downward-api",
               "projected": "kubernetes.io~projected",
               "persistentVolumeClaim": "kubernetes.io~local-volume"}


class MountError(Exception):
    """A volume cannot be set up now (FailedMount); the kubelet retries."""


def kind_of(volume: Obj) -> str:
    return next((k for k in PLUGIN_DIRS if k in volume), "")


def format_map(m: dict[str, str]) -> str:
    """The downward API's labels/annotations file: sorted key="quoted value" lines."""
    return "\n".join(f"{k}={json.dumps(m[k], ensure_ascii=False)}" for k in sorted(m))


def _field(pod: Obj, path: str) -> str:
    meta = pod.get("metadata") or {}
    if path in ("metadata.labels", "metadata.annotations"):
        return format_map(meta.get(path.split(".")[1]) or {})
    from runtime.kubelet.containerspec import field_value  # one list of field paths
    status = pod.get("status") or {}
    return field_value(pod, path, pod_ip=status.get("podIP", ""),
                       host_ip=status.get("hostIP", ""))


def _resource(pod: Obj, ref: Obj, allocatable: dict[str, str]) -> str:
    name = ref.get("containerName", "")
    spec = pod.get("spec") or {}
    container = next((c for c in (spec.get("containers") or []) +
                      (spec.get("initContainers") or []) if c.get("name") == name), None)
    if container is None:
        raise MountError(f"container {name} not found in pod")
    kind, _, res = ref.get("resource", "").partition(".")
    values = (container.get("resources") or {}).get(kind) or {}
    raw = values.get(res) or (allocatable.get(res) if kind == "limits" else None) or "0"
    divisor = parse(ref.get("divisor") or "1") or parse("1")
    return str(math.ceil(parse(raw) / divisor))


def _keyed(data: dict[str, bytes], items: list[Obj] | None, mode: int, what: str,
           optional: bool) -> Payload:
    if not items:
        return {k: (v, mode) for k, v in data.items()}
    out: Payload = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if optional:
                continue
            raise MountError(f"references non-existent secret key: {key}"
                             if what == "secret" else
                             f"configmap references non-existent config key: {key}")
        out[item.get("path") or key] = (data[key], int(item.get("mode") or mode))
    return out


def _configmap(src: Obj, sources: Sources, mode: int) -> Payload:
    return _object_files(src, src.get("name", ""), sources.configmaps, configmap_data, mode,
                         "configmap")


def _secret(src: Obj, sources: Sources, mode: int) -> Payload:
    return _object_files(src, src.get("secretName") or src.get("name", ""), sources.secrets,
                         secret_data, mode, "secret")


def _object_files(src: Obj, name: str, objects: Mapping[str, Obj | None],
                  data_of: Callable[[Obj], dict[str, bytes]], mode: int, what: str) -> Payload:
    """The files of the ConfigMap or Secret `name` a volume source projects; none for a
    missing optional one."""
    optional = bool(src.get("optional"))
    obj = objects.get(name)
    if obj is None:
        if optional:
            return {}
        raise MountError(f'{what} "{name}" not found')
    return _keyed(data_of(obj), src.get("items"), mode, what, optional)


def _downward(pod: Obj, src: Obj, mode: int, allocatable: dict[str, str]) -> Payload:
    out: Payload = {}
    for item in src.get("items") or []:
        if "fieldRef" in item:
            text = _field(pod, item["fieldRef"].get("fieldPath", ""))
        else:
            text = _resource(pod, item.get("resourceFieldRef") or {}, allocatable)
        out[item.get("path", "")] = (text.encode(), int(item.get("mode") or mode))
    return out


def payload(pod: Obj, volume: Obj, sources: Sources,
            allocatable: dict[str, str] | None = None) -> Payload:
    """The files of one configMap/secret/downwardAPI/projected volume."""
    kind, alloc = kind_of(volume), allocatable or {}
    src = volume.get(kind) or {}
    given = src.get("defaultMode")
    mode = int(given) if given is not None else DEFAULT_MODE
    if kind == "configMap":
        return _configmap(src, sources, mode)
    if kind == "secret":
        return _secret(src, sources, mode)
    if kind == "downwardAPI":
        return _downward(pod, src, mode, alloc)
    out: Payload = {}
    for s in src.get("sources") or []:
        if "configMap" in s:
            out |= _configmap(s["configMap"], sources, mode)
        elif "secret" in s:
            out |= _secret(s["secret"], sources, mode)
        elif "downwardAPI" in s:
            out |= _downward(pod, s["downwardAPI"], mode, alloc)
        elif "serviceAccountToken" in s:
            src_token = s["serviceAccountToken"]
            token = sources.tokens.get(projection_key(src_token))
            if token is None:  # the kubelet asks for it before writing the volume
                raise MountError("failed to fetch token: no token requested yet")
            out[src_token.get("path", "token")] = (token.encode(), mode)
    return out
