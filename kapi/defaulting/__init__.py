"""Defaulting: upstream's SetDefaults_* for the built-in kinds, plus the defaults the
admission plugins every new pod meets add (service account, priority, the
not-ready/unreachable tolerations).

`default` runs where upstream's decoder defaults: on every object a request carries (a
created or updated object, the result of a patch or apply) before the store compares it
with the stored one. `PodAdmission` is an admission step (create only). Pure functions
over the request's object (in its own group/version); they fill only what is missing
and never overwrite what the client set; running them twice changes nothing.
"""

from __future__ import annotations

from typing import Any, Callable

from kapi.defaulting import pod, workloads
from kapi.meta.resources import Resource

Obj = dict[str, Any]

# (group, kind) -> defaulter; (group, version, kind) where versions differ
VERSIONED: dict[tuple[str, str, str], Callable[[Obj], None]] = {
    ("autoscaling", "v1", "HorizontalPodAutoscaler"): workloads.hpa_v1,
    ("autoscaling", "v2", "HorizontalPodAutoscaler"): workloads.hpa_v2,
}
DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("", "Pod"): pod.pod,
    ("", "PodTemplate"): lambda o: workloads.template(o) if isinstance(o, dict) else None,
    ("", "Service"): workloads.service,
    ("", "Secret"): workloads.secret,
    ("", "PersistentVolumeClaim"): workloads.pvc,
    ("", "Endpoints"): workloads.endpoints,
    ("apps", "Deployment"): workloads.deployment,
    ("apps", "ReplicaSet"): workloads.replicaset,
    ("apps", "StatefulSet"): workloads.statefulset,
    ("apps", "DaemonSet"): workloads.daemonset,
    ("batch", "Job"): workloads.job,
    ("batch", "CronJob"): workloads.cronjob,
}


def default(r: Resource, obj: Obj) -> None:
    """Default obj (a `r.kind` in r's group/version) in place."""
    f = DEFAULTERS.get((r.group, r.kind)) or VERSIONED.get((r.group, r.version, r.kind))
    if f is not None:
        f(obj)


# Kinds whose strategy sets, on create, fields their defaults read.
REDEFAULTED = frozenset({("batch", "Job")})


async def admit(r: Resource, op: str, new: Obj, old: Obj | None) -> None:
    """Admission step: default a new object again after the strategy. Upstream defaults
    an object when it reads it back from storage too, so fields a strategy sets on create
    feed defaults (a Job's generated template labels become the Job's labels); updates
    were defaulted as decoded and their strategies add nothing defaults read."""
    if op == "CREATE" and (r.group, r.kind) in REDEFAULTED:
        default(r, new)


class PodAdmission:
    """The admission step that gives every new pod what upstream's ServiceAccount,
    Priority and DefaultTolerationSeconds plugins give it."""

    def __init__(self, *, toleration_seconds: int = 300) -> None:
        self.toleration_seconds = toleration_seconds

    async def __call__(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        if op == "CREATE" and r.kind == "Pod" and not r.group:
            pod.pod_admission(new, self.toleration_seconds)
