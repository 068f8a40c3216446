"""A pod's container spec turned into what the runtime creates: pure functions.

It owns upstream's rules for command/args against the image's entrypoint, environment
variables (value, fieldRef, resourceFieldRef, ConfigMap/Secret keys, envFrom and service
links, via runtime/kubelet/envsources.py) with `$(VAR)` expansion, workingDir, cpu/memory
limits as cgroup settings, hostPorts, and the labels that tie a container to its pod.
It must never do I/O: the pod IP and host IP arrive as arguments.
"""

from __future__ import annotations

import math
import re
from typing import Any

from runtime.kubelet import cri
from runtime.kubelet.envsources import Sources, env_from, key_ref, service_env
from runtime.kubelet.security import Settings
from runtime.scheduler.quantity import milli, parse

Obj = dict[str, Any]

CPU_PERIOD = 100_000  # microseconds, as the kubelet's CFS settings
_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['([^']*)'\]$")


def expand(text: str, env: dict[str, str]) -> str:
    """Upstream's $(VAR) expansion: a defined VAR is replaced, `$$` is a literal `$`,
    and a reference to an undefined variable stays as written."""
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)
    return _REF.sub(sub, text)


def field_value(pod: Obj, path: str, *, pod_ip: str, host_ip: str) -> str:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    m = _SUBSCRIPT.match(path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    simple = {"metadata.name": meta.get("name", ""),
              "metadata.namespace": meta.get("namespace", ""),
              "metadata.uid": meta.get("uid", ""),
              "spec.nodeName": spec.get("nodeName", ""),
              "spec.serviceAccountName": spec.get("serviceAccountName", ""),
              "status.hostIP": host_ip, "status.hostIPs": host_ip,
              "status.podIP": pod_ip, "status.podIPs": pod_ip}
    return str(simple.get(path, ""))


def resource_value(container: Obj, ref: Obj, node_allocatable: dict[str, str]) -> str:
    """resourceFieldRef: limits fall back to the node's allocatable, as upstream."""
    resource = ref.get("resource", "")
    kind, _, name = resource.partition(".")
    res = (container.get("resources") or {}).get(kind) or {}
    raw = res.get(name) or (node_allocatable.get(name) if kind == "limits" else None) or "0"
    divisor = parse(ref.get("divisor") or "1") or parse("1")
    return str(math.ceil(parse(raw) / divisor))


def environment(pod: Obj, container: Obj, *, pod_ip: str, host_ip: str,
                node_allocatable: dict[str, str] | None = None,
                sources: Sources | None = None, warnings: list[str] | None = None
                ) -> dict[str, str]:
    """Upstream's order: envFrom, then env in order (a value's `$(VAR)` sees what came
    before and the service variables), then the service variables not set already.
    Raises ConfigError when a required ConfigMap/Secret (key) is absent."""
    sources = sources or Sources()
    ns = (pod.get("metadata") or {}).get("namespace", "")
    spec = pod.get("spec") or {}
    services = service_env(sources.services, ns, spec.get("enableServiceLinks", True)
                           is not False)
    env, invalid = env_from(container, sources, ns)
    if warnings is not None:
        warnings += invalid
    for var in container.get("env") or []:
        name, source = var.get("name", ""), var.get("valueFrom") or {}
        value: str | None
        if "fieldRef" in source:
            value = field_value(pod, source["fieldRef"].get("fieldPath", ""),
                                pod_ip=pod_ip, host_ip=host_ip)
        elif "resourceFieldRef" in source:
            value = resource_value(container, source["resourceFieldRef"],
                                   node_allocatable or {})
        elif "configMapKeyRef" in source:
            value = key_ref(source["configMapKeyRef"], "ConfigMap", sources, ns)
        elif "secretKeyRef" in source:
            value = key_ref(source["secretKeyRef"], "Secret", sources, ns)
        else:
            value = expand(str(var.get("value", "")), services | env)
        if value is not None:
            env[name] = value
    return services | env


def command_line(container: Obj, env: dict[str, str]) -> tuple[list[str] | None,
                                                                list[str] | None]:
    """(entrypoint, cmd) for the engine: `command` replaces the image's entrypoint (and
    drops its CMD), `args` replace the image's CMD; None keeps the image's."""
    command = [expand(c, env) for c in container.get("command") or []]
    args = [expand(a, env) for a in container.get("args") or []]
    if command:
        return command, args
    return None, args or None


def cgroup_limits(container: Obj) -> tuple[int, int, int]:
    """(memory bytes, cpu quota per CPU_PERIOD, cpu shares) from limits and requests."""
    res = container.get("resources") or {}
    limits, requests = res.get("limits") or {}, res.get("requests") or {}
    memory = milli(limits["memory"]) // 1000 if limits.get("memory") else 0
    cpu_limit = milli(limits["cpu"]) if limits.get("cpu") else 0
    quota = max(cpu_limit * CPU_PERIOD // 1000, 1000) if cpu_limit else 0
    request = milli(requests.get("cpu") or limits.get("cpu") or 0)
    shares = max(request * 1024 // 1000, 2) if request else 2
    return memory, quota, shares


def pod_labels(pod: Obj, node: str) -> dict[str, str]:
    meta = pod.get("metadata") or {}
    return {cri.POD_UID: meta.get("uid", ""), cri.POD_NAME: meta.get("name", ""),
            cri.POD_NAMESPACE: meta.get("namespace", ""), cri.NODE: node}


def container_config(pod: Obj, container: Obj, *, node: str, attempt: int, init: bool,
                     pod_ip: str, host_ip: str,
                     node_allocatable: dict[str, str] | None = None,
                     sources: Sources | None = None,
                     warnings: list[str] | None = None,
                     env: dict[str, str] | None = None,
                     binds: list[str] | None = None,
                     security: Settings | None = None,
                     termination_log: str = "") -> cri.ContainerConfig:
    if env is None:
        env = environment(pod, container, pod_ip=pod_ip, host_ip=host_ip,
                          node_allocatable=node_allocatable, sources=sources,
                          warnings=warnings)
    entrypoint, cmd = command_line(container, env)
    memory, quota, shares = cgroup_limits(container)
    labels = pod_labels(pod, node) | {cri.CONTAINER_NAME: container["name"],
                                      cri.RESTART_COUNT: str(attempt),
                                      cri.CONTAINER_TYPE: "container"}
    if init:
        labels[cri.INIT] = "true"
    binds = list(binds or [])
    if termination_log:
        labels[cri.TERMINATION_LOG] = termination_log
        labels[cri.TERMINATION_POLICY] = container.get("terminationMessagePolicy") or "File"
        binds.append(f"{termination_log}:"
                     f"{container.get('terminationMessagePath') or '/dev/termination-log'}")
    return cri.ContainerConfig(
        name=container["name"], image=container.get("image", ""), labels=labels,
        entrypoint=entrypoint, cmd=cmd, env=env,
        working_dir=container.get("workingDir", ""), memory_limit=memory,
        cpu_quota=quota, cpu_shares=shares, tty=bool(container.get("tty")),
        stdin=bool(container.get("stdin")), stdin_once=bool(container.get("stdinOnce")),
        binds=binds, security=security or Settings())


def host_ports(pod: Obj) -> dict[str, int | tuple[str, int]]:
    """hostPort publications for the sandbox: "port/proto" -> host port, or (host IP,
    host port) when the port names one address."""
    out: dict[str, int | tuple[str, int]] = {}
    spec = pod.get("spec") or {}
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                key = f"{p.get('containerPort')}/{str(p.get('protocol') or 'TCP').lower()}"
                out[key] = ((p["hostIP"], int(p["hostPort"])) if p.get("hostIP")
                            else int(p["hostPort"]))
    return out


def engine_name(pod: Obj, container: str, attempt: int) -> str:
    """k8s_<container>_<pod>_<namespace>_<uid>_<attempt>, dockershim's naming: unique per
    pod uid and attempt, so a second create of the same instance fails instead of
    duplicating it."""
    meta = pod.get("metadata") or {}
    return (f"k8s_{container}_{meta.get('name', '')}_{meta.get('namespace', '')}_"
            f"{meta.get('uid', '')}_{attempt}")
