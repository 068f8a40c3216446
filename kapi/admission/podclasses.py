"""The Priority and RuntimeClass admission steps (upstream's plugins of those names).

Priority: a new pod's priorityClassName resolves to spec.priority and
spec.preemptionPolicy (no name: the global default class, else priority 0); an unknown
class, or a priority or policy the pod states that differs from its class's, is 403.
On PriorityClasses it keeps a second globalDefault class out.

RuntimeClass: a new pod naming a RuntimeClass gets its overhead and its scheduling
nodeSelector and tolerations; an unknown class, a conflicting overhead or nodeSelector
is 403. Both read the classes from the watch cache (storage when the cache lags).
"""

from __future__ import annotations

from typing import Any

from kapi import admission, errors
from kapi.meta.resources import Resource, Scheme
from kapi.storage.cacher import WatchCache, decode

Obj = dict[str, Any]
DEFAULT_PREEMPTION = "PreemptLowerPriority"


def _forbidden(r: Resource, obj: Obj, message: str) -> errors.APIError:
    meta = obj.get("metadata") or {}
    name = meta.get("name") or meta.get("generateName") or ""
    group = f".{r.group}" if r.group else ""
    return errors.Forbidden(f'{r.resource}{group} "{name}" is forbidden: {message}',
                            details={"name": name, "kind": r.resource})


class _Classes:
    """Cluster-scoped class objects of one resource, read through the cache."""

    def __init__(self, cache: WatchCache, r: Resource | None) -> None:
        self.cache, self.r = cache, r

    @property
    def served(self) -> bool:
        """False in a scheme without the kind (a test serving a few kinds)."""
        return self.r is not None

    async def get(self, name: str) -> Obj | None:
        assert self.r is not None
        obj = self.cache.get(self.r.key_prefix, self.r.key(None, name))
        if obj is None:  # the cache may lag a class created a moment ago
            kv = await self.cache.storage.get(self.r.key(None, name))
            obj = decode(kv) if kv is not None else None
        return obj

    def all(self) -> list[Obj]:
        assert self.r is not None
        return self.cache.list(self.r.key_prefix, self.r.key_prefix)


def _new_pod(r: Resource, op: str) -> bool:
    return op == "CREATE" and r.kind == "Pod" and not r.group and \
        not admission.current().subresource


class Priority:
    def __init__(self, cache: WatchCache, scheme: Scheme) -> None:
        self.classes = _Classes(cache, scheme.get("scheduling.k8s.io", "v1", "priorityclasses"))

    async def __call__(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        if not self.classes.served:
            return
        if r.kind == "PriorityClass" and op in ("CREATE", "UPDATE"):
            self._one_default(r, new)
        elif _new_pod(r, op) and isinstance(new.get("spec"), dict):
            await self._admit_pod(r, new)

    def _one_default(self, r: Resource, pc: Obj) -> None:
        if not pc.get("globalDefault"):
            return
        name = pc["metadata"].get("name")
        for other in self.classes.all():
            if other.get("globalDefault") and other["metadata"]["name"] != name:
                raise _forbidden(r, pc, f"PriorityClass {other['metadata']['name']} is already "
                                        "marked as default. Only one default can exist")

    def _default_class(self) -> Obj | None:
        """The global default with the smallest value, as upstream picks one."""
        defaults = [c for c in self.classes.all() if c.get("globalDefault")]
        return min(defaults, key=lambda c: c.get("value", 0)) if defaults else None

    async def _admit_pod(self, r: Resource, pod: Obj) -> None:
        spec = pod["spec"]
        name = spec.get("priorityClassName") or ""
        if name:
            pc = await self.classes.get(name)
            if pc is None:
                raise _forbidden(r, pod, f"no PriorityClass with name {name} was found")
        else:
            pc = self._default_class()
        value = pc.get("value", 0) if pc else 0
        policy = (pc.get("preemptionPolicy") if pc else None) or DEFAULT_PREEMPTION
        if spec.get("priority") is not None and spec["priority"] != value:
            raise _forbidden(r, pod, f"the integer value of priority ({spec['priority']}) must "
                                     "not be provided in pod spec; priority admission controller "
                                     f"computed {value} from the given PriorityClass name")
        if spec.get("preemptionPolicy") and spec["preemptionPolicy"] != policy:
            raise _forbidden(r, pod, "the string value of PreemptionPolicy "
                                     f"({spec['preemptionPolicy']}) must not be provided in pod "
                                     "spec; priority admission controller computed "
                                     f"{policy} from the given PriorityClass name")
        if pc is not None:
            spec["priorityClassName"] = pc["metadata"]["name"]
        spec["priority"], spec["preemptionPolicy"] = value, policy


class RuntimeClass:
    def __init__(self, cache: WatchCache, scheme: Scheme) -> None:
        self.classes = _Classes(cache, scheme.get("node.k8s.io", "v1", "runtimeclasses"))

    async def __call__(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        if not self.classes.served or not _new_pod(r, op) or not isinstance(new.get("spec"), dict):
            return
        spec = new["spec"]
        name = spec.get("runtimeClassName")
        if not name:
            return
        rc = await self.classes.get(name)
        if rc is None:
            raise _forbidden(r, new, f'pod rejected: RuntimeClass "{name}" not found')
        self._overhead(r, new, (rc.get("overhead") or {}).get("podFixed"))
        self._scheduling(r, new, rc.get("scheduling") or {})

    @staticmethod
    def _overhead(r: Resource, pod: Obj, fixed: Obj | None) -> None:
        spec = pod["spec"]
        if fixed is None:
            if spec.get("overhead"):
                raise _forbidden(r, pod, "pod rejected: Pod Overhead set without corresponding "
                                         "RuntimeClass defined Overhead")
            return
        if spec.get("overhead") and spec["overhead"] != fixed:
            raise _forbidden(r, pod, "pod rejected: Pod's Overhead doesn't match RuntimeClass's "
                                     "defined Overhead")
        spec["overhead"] = dict(fixed)

    @staticmethod
    def _scheduling(r: Resource, pod: Obj, scheduling: Obj) -> None:
        spec = pod["spec"]
        wanted = scheduling.get("nodeSelector") or {}
        selector = dict(spec.get("nodeSelector") or {})
        for k, v in wanted.items():
            if k in selector and selector[k] != v:
                raise _forbidden(r, pod, f"conflict: runtimeClass.scheduling.nodeSelector[{k}] "
                                         f"= {v}; pod.spec.nodeSelector[{k}] = {selector[k]}")
            selector[k] = v
        if selector:
            spec["nodeSelector"] = selector
        tolerations = list(spec.get("tolerations") or [])
        for t in scheduling.get("tolerations") or ():
            if t not in tolerations:
                tolerations.append(t)
        if tolerations:
            spec["tolerations"] = tolerations
