"""PodSecurity admission: enforce, warn and audit the Pod Security Standards a namespace
asks for with its labels pod-security.kubernetes.io/{enforce,warn,audit}[-version].

- a pod (create, or an update adding ephemeral containers) failing the enforce level is
  403 `violates PodSecurity "restricted:latest": reason (detail), ...`; failing the warn
  level gives a `would violate PodSecurity ...` warning;
- a workload's pod template (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
  ReplicationController, PodTemplate) is never refused: failing the enforce or warn level
  gives that warning;
- a namespace with a bad label value is refused (422); setting or tightening its enforce
  level warns about each existing pod that would now be refused;
- the audit level's violations (and the enforce level used) go on the request's audit
  Event as annotations pod-security.kubernetes.io/audit-violations and enforce-policy;
- exempt namespaces and users (upstream's PodSecurityConfiguration exemptions) skip it.
No labels means privileged. Reads namespaces and pods through the store; writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kapi import admission, errors
from kapi.admission.podsecurity.checks import describe, evaluate, plural
from kapi.admission.podsecurity.config import Settings
from kapi.admission.refuse import forbidden
from kapi.auth import current_user
from kapi.meta.resources import Resource, Scheme
from kapi.registry.store import ListOptions

Obj = dict[str, Any]
PREFIX = "pod-security.kubernetes.io/"
LEVELS = ("privileged", "baseline", "restricted")
MODES = ("enforce", "audit", "warn")
TEMPLATES = {("", "podtemplates"): ("template",),
             ("", "replicationcontrollers"): ("spec", "template"),
             ("apps", "deployments"): ("spec", "template"),
             ("apps", "replicasets"): ("spec", "template"),
             ("apps", "statefulsets"): ("spec", "template"),
             ("apps", "daemonsets"): ("spec", "template"),
             ("batch", "jobs"): ("spec", "template"),
             ("batch", "cronjobs"): ("spec", "jobTemplate", "spec", "template")}


@dataclass(frozen=True)
class Level:
    level: str
    version: str = "latest"

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"


def policy(labels: Any, defaults: dict[str, str] | None = None
           ) -> tuple[dict[str, Level], list[Obj]]:
    """The namespace's level per mode (the configured defaults where it has no label),
    and a cause per bad label value."""
    labels = labels if isinstance(labels, dict) else {}
    defaults = defaults or {}
    out, causes = {}, []
    for mode in MODES:
        level = labels.get(PREFIX + mode, defaults.get(mode, "privileged"))
        version = labels.get(f"{PREFIX}{mode}-version", defaults.get(f"{mode}-version",
                                                                     "latest"))
        if level not in LEVELS:
            causes.append(_cause(PREFIX + mode, level,
                                 'must be one of privileged, baseline, restricted'))
            level = "restricted"  # as upstream: an unreadable level is the strictest
        if version != "latest" and not _is_version(version):
            causes.append(_cause(f"{PREFIX}{mode}-version", version,
                                 'must be "latest" or "v1.x"'))
            version = "latest"
        out[mode] = Level(level, version)
    return out, causes


def _is_version(v: str) -> bool:
    major, _, minor = v.removeprefix("v").partition(".")
    return v.startswith("v") and major == "1" and minor.isdigit()


def _cause(label: str, value: str, why: str) -> Obj:
    return {"reason": "FieldValueInvalid", "field": f"metadata.labels[{label}]",
            "message": f'Invalid value: "{value}": {why}'}


def _template(r: Resource, obj: Obj) -> Obj | None:
    path = TEMPLATES.get((r.group, r.resource))
    node: Any = obj
    for key in path or ():
        node = node.get(key) if isinstance(node, dict) else None
    return node if path and isinstance(node, dict) else None


class PodSecurity:
    def __init__(self, scheme: Scheme, settings: Settings | None = None) -> None:
        namespaces, pods = scheme.get("", "v1", "namespaces"), scheme.get("", "v1", "pods")
        assert namespaces is not None and pods is not None
        self.namespaces, self.pods = namespaces, pods
        self.settings = settings or Settings()
        self.exempt_namespaces = self.settings.exempt_namespaces
        self.store: Any = None  # the generic store, set once it exists

    async def __call__(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        if op not in ("CREATE", "UPDATE") or \
                current_user().name in self.settings.exempt_usernames:
            return
        sub = admission.current().subresource
        if r.resource == "namespaces" and not r.group and not sub:
            await self._namespace(r, new, old)
        elif r.resource == "pods" and not r.group and sub in ("", "ephemeralcontainers"):
            await self._pod(r, op, new, old)
        elif not sub and (r.group, r.resource) in TEMPLATES:
            await self._workload(r, new, old)

    def _exempt_runtime(self, spec: Obj) -> bool:
        return spec.get("runtimeClassName") in self.settings.exempt_runtime_classes

    async def _levels(self, obj: Obj) -> dict[str, Level] | None:
        ns = (obj.get("metadata") or {}).get("namespace")
        if not ns or ns in self.exempt_namespaces:
            return None
        try:
            namespace = await self.store.get(self.namespaces, None, ns)
        except errors.NotFound:
            return None
        return policy((namespace.get("metadata") or {}).get("labels"),
                      self.settings.defaults)[0]

    async def _pod(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        if op == "UPDATE" and old is not None and len(
                (new.get("spec") or {}).get("ephemeralContainers") or []) == len(
                (old.get("spec") or {}).get("ephemeralContainers") or []):
            return  # only new ephemeral containers make an update worth checking
        levels = await self._levels(new)
        if levels is None or self._exempt_runtime(new.get("spec") or {}):
            return
        meta, spec = new.get("metadata") or {}, new.get("spec") or {}
        admission.annotate(PREFIX + "enforce-policy", str(levels["enforce"]))
        _audit(levels["audit"], meta, spec)
        failed = evaluate(levels["enforce"].level, meta, spec)
        if failed:
            raise forbidden(r, new, f'violates PodSecurity "{levels["enforce"]}": '
                                    f"{describe(failed)}")
        if levels["warn"] != levels["enforce"]:
            _warn(levels["warn"], meta, spec)

    async def _workload(self, r: Resource, new: Obj, old: Obj | None) -> None:
        template = _template(r, new)
        if template is None or (old is not None and _template(r, old) == template):
            return
        levels = await self._levels(new)
        if levels is None or self._exempt_runtime(template.get("spec") or {}):
            return
        meta, spec = template.get("metadata") or {}, template.get("spec") or {}
        for level in dict.fromkeys((levels["enforce"], levels["warn"])):
            _warn(level, meta, spec)
        _audit(levels["audit"], meta, spec)

    async def _namespace(self, r: Resource, new: Obj, old: Obj | None) -> None:
        meta = new.get("metadata") or {}
        levels, causes = policy(meta.get("labels"), self.settings.defaults)
        if causes:
            raise errors.Invalid.of(r, "Namespace", meta.get("name", ""), causes)
        before = policy(((old or {}).get("metadata") or {}).get("labels"),
                        self.settings.defaults)[0]
        name = meta.get("name", "")
        if old is None or levels["enforce"] == before["enforce"] or \
                name in self.exempt_namespaces or levels["enforce"].level == "privileged":
            return
        pods = (await self.store.list(self.pods, name, ListOptions()))["items"]
        groups: dict[str, list[str]] = {}  # the reasons -> the pods failing for them
        for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
            failed = evaluate(levels["enforce"].level, pod.get("metadata") or {},
                              pod.get("spec") or {})
            if failed:
                groups.setdefault(", ".join(r for r, _ in failed), []).append(
                    pod["metadata"]["name"])
        if groups:
            admission.warn(f'existing pods in namespace "{name}" violate the new PodSecurity '
                           f'enforce level "{levels["enforce"]}"')
            for reasons, names in groups.items():
                others = len(names) - 1
                more = f" (and {others} other {plural('pod', 'pods', others)})" if others else ""
                admission.warn(f"{names[0]}{more}: {reasons}")


def _warn(level: Level, meta: Obj, spec: Obj) -> None:
    failed = evaluate(level.level, meta, spec)
    if failed:
        admission.warn(f'would violate PodSecurity "{level}": {describe(failed)}')


def _audit(level: Level, meta: Obj, spec: Obj) -> None:
    """The audit level's violations, noted on the request's audit Event."""
    failed = evaluate(level.level, meta, spec)
    if failed:
        admission.annotate(PREFIX + "audit-violations",
                           f'would violate PodSecurity "{level}": {describe(failed)}')
