"""The Pod Security Standards as checks over a pod's metadata and spec.

Each check has upstream's ID, its level (baseline or restricted) and returns None or
(reason, detail) worded as upstream words them; `evaluate(level, meta, spec)` runs the
checks of a level in ID order (a restricted check replaces the baseline check it
overrides). Containers are visited init, regular, ephemeral, as upstream visits them.
Pure functions; never reads labels or namespaces (plugin.py does).
"""

from __future__ import annotations

from typing import Any, Callable

Obj = dict[str, Any]
Result = tuple[str, str] | None

BASELINE_CAPS = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
                           "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP",
                           "SETUID", "SYS_CHROOT"})
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes"})
RESTRICTED_VOLUMES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                "persistentVolumeClaim", "projected", "secret"})
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t",
                           "container_engine_t"})


def containers(spec: Obj) -> list[Obj]:
    return [c for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or [] if isinstance(c, dict)]


def _sc(obj: Obj) -> Obj:
    sc = obj.get("securityContext")
    return sc if isinstance(sc, dict) else {}


def plural(one: str, many: str, n: int) -> str:
    return one if n == 1 else many


def quoted(items: Any) -> str:
    return ", ".join(f'"{i}"' for i in items)


def _who(names: list[str]) -> str:
    return f'{plural("container", "containers", len(names))} {quoted(names)}'


def _offenders(items: list[Obj], bad_values: Callable[[Obj], list[str]]
               ) -> tuple[list[str], list[str]]:
    """(names of the items with a bad value, every bad value sorted)."""
    names, values = [], set()
    for item in items:
        found = bad_values(item)
        if found:
            names.append(item.get("name", ""))
            values |= set(found)
    return names, sorted(values)


def _setters(pod_bad: bool, names: list[str]) -> str:
    return " and ".join((["pod"] if pod_bad else []) + ([_who(names)] if names else []))


# -- baseline -----------------------------------------------------------------------------
def host_namespaces(meta: Obj, spec: Obj) -> Result:
    bad = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    return ("host namespaces", ", ".join(bad)) if bad else None


def privileged(meta: Obj, spec: Obj) -> Result:
    bad = [c.get("name", "") for c in containers(spec) if _sc(c).get("privileged")]
    return ("privileged", f"{_who(bad)} must not set securityContext.privileged=true") \
        if bad else None


def _added_caps(c: Obj) -> list[str]:
    return [str(x) for x in (_sc(c).get("capabilities") or {}).get("add") or []]


def capabilities_baseline(meta: Obj, spec: Obj) -> Result:
    bad, caps = _offenders(containers(spec),
                           lambda c: [x for x in _added_caps(c) if x not in BASELINE_CAPS])
    return ("non-default capabilities", f"{_who(bad)} must not include {quoted(caps)} "
            "in securityContext.capabilities.add") if bad else None


APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def _apparmor_type(sc: Obj) -> str | None:
    """The appArmorProfile.type a security context sets, if it sets a profile at all."""
    profile = sc.get("appArmorProfile")
    return str(profile.get("type") or "") if isinstance(profile, dict) else None


def apparmor(meta: Obj, spec: Obj) -> Result:
    """Neither the securityContext fields (pod, containers) nor the deprecated
    per-container annotations may ask for another profile than the runtime's default
    or a local one."""
    setters, values = [], set()
    pod_type = _apparmor_type(_sc({"securityContext": spec.get("securityContext")}))
    if pod_type is not None and pod_type not in APPARMOR_TYPES:
        setters.append("pod")
        values.add(pod_type)
    bad, types = _offenders(containers(spec), lambda c: [
        t for t in [_apparmor_type(_sc(c))] if t is not None and t not in APPARMOR_TYPES])
    if bad:
        setters.append(_who(bad))
        values |= set(types)
    annotations = meta.get("annotations") or {}
    forbidden = sorted(f'{k}="{v}"' for k, v in annotations.items()
                       if str(k).startswith(APPARMOR_ANNOTATION) and v and
                       v != "runtime/default" and not str(v).startswith("localhost/"))
    if forbidden:
        setters.append(plural("annotation", "annotations", len(forbidden)))
    if not setters:
        return None
    listed = sorted(values) + forbidden
    return (plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(listed)),
            f"{' and '.join(setters)} must not set AppArmor profile type to {quoted(listed)}")


def host_path_volumes(meta: Obj, spec: Obj) -> Result:
    bad = [v.get("name", "") for v in spec.get("volumes") or [] if v.get("hostPath")]
    return ("hostPath volumes", f'{plural("volume", "volumes", len(bad))} {quoted(bad)}') \
        if bad else None


def host_ports(meta: Obj, spec: Obj) -> Result:
    bad, ports = _offenders(containers(spec), lambda c: [
        str(p["hostPort"]) for p in c.get("ports") or [] if p.get("hostPort")])
    if not bad:
        return None
    return ("hostPort", f'{_who(bad)} {plural("uses", "use", len(bad))} '
            f'{plural("hostPort", "hostPorts", len(ports))} {", ".join(ports)}')


def proc_mount(meta: Obj, spec: Obj) -> Result:
    bad = [c for c in containers(spec) if _sc(c).get("procMount") not in (None, "Default")]
    if not bad:
        return None
    kinds = sorted({str(_sc(c)["procMount"]) for c in bad})
    return ("procMount", f"{_who([c.get('name', '') for c in bad])} must not set "
            f"securityContext.procMount to {quoted(kinds)}")


def seccomp_baseline(meta: Obj, spec: Obj) -> Result:
    pod_bad = ((_sc({"securityContext": spec.get("securityContext")}).get("seccompProfile")
                or {}).get("type")) == "Unconfined"
    bad = [c.get("name", "") for c in containers(spec)
           if (_sc(c).get("seccompProfile") or {}).get("type") == "Unconfined"]
    if not pod_bad and not bad:
        return None
    return ("seccompProfile", f"{_setters(pod_bad, bad)} must not set "
            'securityContext.seccompProfile.type to "Unconfined"')


def selinux(meta: Obj, spec: Obj) -> Result:
    def bad(opts: Any) -> bool:
        opts = opts if isinstance(opts, dict) else {}
        return opts.get("type", "") not in SELINUX_TYPES or bool(opts.get("user")) or \
            bool(opts.get("role"))
    pod_bad = bad(_sc(spec).get("seLinuxOptions"))
    names = [c.get("name", "") for c in containers(spec) if bad(_sc(c).get("seLinuxOptions"))]
    if not pod_bad and not names:
        return None
    return ("seLinuxOptions", f"{_setters(pod_bad, names)} set forbidden "
            "securityContext.seLinuxOptions")


def sysctls(meta: Obj, spec: Obj) -> Result:
    bad = [str(s.get("name")) for s in _sc(spec).get("sysctls") or []
           if s.get("name") not in SAFE_SYSCTLS]
    return ("forbidden sysctls", ", ".join(bad)) if bad else None


# -- restricted ---------------------------------------------------------------------------
def allow_privilege_escalation(meta: Obj, spec: Obj) -> Result:
    bad = [c.get("name", "") for c in containers(spec)
           if _sc(c).get("allowPrivilegeEscalation") is not False]
    return ("allowPrivilegeEscalation != false",
            f"{_who(bad)} must set securityContext.allowPrivilegeEscalation=false") \
        if bad else None


def capabilities_restricted(meta: Obj, spec: Obj) -> Result:
    no_drop = [c.get("name", "") for c in containers(spec)
               if "ALL" not in ((_sc(c).get("capabilities") or {}).get("drop") or [])]
    adding, caps = _offenders(containers(spec), lambda c: [
        x for x in _added_caps(c) if x != "NET_BIND_SERVICE"])
    details = []
    if no_drop:
        details.append(f'{_who(no_drop)} must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f"{_who(adding)} must not include {quoted(caps)} in "
                       "securityContext.capabilities.add")
    return ("unrestricted capabilities", "; ".join(details)) if details else None


def restricted_volumes(meta: Obj, spec: Obj) -> Result:
    bad, kinds = _offenders(spec.get("volumes") or [], lambda v: [
        k for k, val in v.items() if k != "name" and val is not None
        and k not in RESTRICTED_VOLUMES])
    if not bad:
        return None
    return ("restricted volume types", f'{plural("volume", "volumes", len(bad))} {quoted(bad)} '
            f'{plural("uses", "use", len(bad))} '
            f'{plural("restricted volume type", "restricted volume types", len(kinds))} '
            f"{quoted(kinds)}")


def _pod_or_container(spec: Obj, field: str, ok: Callable[[Any], bool],
                      bad: Callable[[Any], bool]) -> tuple[bool, list[str], list[str]]:
    """(pod sets a bad value, containers setting a bad value, containers left unset with
    no good pod-level value)."""
    pod_value = _sc(spec).get(field)
    explicit, implicit = [], []
    for c in containers(spec):
        value = _sc(c).get(field)
        if value is not None and bad(value):
            explicit.append(c.get("name", ""))
        elif value is None and not (pod_value is not None and ok(pod_value)):
            implicit.append(c.get("name", ""))
    return pod_value is not None and bad(pod_value), explicit, implicit


def run_as_non_root(meta: Obj, spec: Obj) -> Result:
    pod_bad, explicit, implicit = _pod_or_container(spec, "runAsNonRoot", lambda v: v is True,
                                                    lambda v: v is False)
    details = []
    if pod_bad or explicit:
        details.append(f"{_setters(pod_bad, explicit)} must not set "
                       "securityContext.runAsNonRoot=false")
    if implicit:
        details.append(f"pod or {_who(implicit)} must set securityContext.runAsNonRoot=true")
    return ("runAsNonRoot != true", "; ".join(details)) if details else None


def run_as_user(meta: Obj, spec: Obj) -> Result:
    pod_bad = _sc(spec).get("runAsUser") == 0
    bad = [c.get("name", "") for c in containers(spec) if _sc(c).get("runAsUser") == 0]
    return ("runAsUser=0", f"{_setters(pod_bad, bad)} must not set runAsUser=0") \
        if pod_bad or bad else None


def seccomp_restricted(meta: Obj, spec: Obj) -> Result:
    def kind(v: Any) -> Any:
        return v.get("type") if isinstance(v, dict) else None
    pod_bad, explicit, implicit = _pod_or_container(
        spec, "seccompProfile", lambda v: kind(v) in ("RuntimeDefault", "Localhost"),
        lambda v: kind(v) not in ("RuntimeDefault", "Localhost"))
    details = []
    if pod_bad or explicit:
        values = sorted({str(kind(_sc(o).get("seccompProfile"))) for o in
                         ([spec] if pod_bad else []) + [c for c in containers(spec)
                                                        if c.get("name", "") in explicit]})
        details.append(f"{_setters(pod_bad, explicit)} must not set "
                       f"securityContext.seccompProfile.type to {quoted(values)}")
    if implicit:
        details.append(f"pod or {_who(implicit)} must set securityContext.seccompProfile.type "
                       'to "RuntimeDefault" or "Localhost"')
    return ("seccompProfile", "; ".join(details)) if details else None


Check = Callable[[Obj, Obj], Result]
# (ID, level, check, the baseline check it replaces), in upstream's ID order
CHECKS: tuple[tuple[str, str, Check, str], ...] = (
    ("allowPrivilegeEscalation", "restricted", allow_privilege_escalation, ""),
    ("appArmorProfile", "baseline", apparmor, ""),
    ("capabilities_baseline", "baseline", capabilities_baseline, ""),
    ("capabilities_restricted", "restricted", capabilities_restricted, "capabilities_baseline"),
    ("hostNamespaces", "baseline", host_namespaces, ""),
    ("hostPathVolumes", "baseline", host_path_volumes, ""),
    ("hostPorts", "baseline", host_ports, ""),
    ("privileged", "baseline", privileged, ""),
    ("procMount", "baseline", proc_mount, ""),
    ("restrictedVolumes", "restricted", restricted_volumes, "hostPathVolumes"),
    ("runAsNonRoot", "restricted", run_as_non_root, ""),
    ("runAsUser", "restricted", run_as_user, ""),
    ("seLinuxOptions", "baseline", selinux, ""),
    ("seccompProfile_baseline", "baseline", seccomp_baseline, ""),
    ("seccompProfile_restricted", "restricted", seccomp_restricted, "seccompProfile_baseline"),
    ("sysctls", "baseline", sysctls, ""),
)


def evaluate(level: str, meta: Obj, spec: Obj) -> list[tuple[str, str]]:
    """Every (reason, detail) the pod fails at `level` (privileged: none)."""
    if level == "privileged":
        return []
    active = [c for c in CHECKS if c[1] == "baseline" or level == "restricted"]
    replaced = {c[3] for c in active if c[3]}
    out = []
    for check_id, _, check, _ in active:
        if check_id not in replaced:
            result = check(meta, spec)
            if result is not None:
                out.append(result)
    return out


def describe(failures: list[tuple[str, str]]) -> str:
    return ", ".join(f"{r} ({d})" if d else r for r, d in failures)
