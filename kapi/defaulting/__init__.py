"""Defaulting: upstream's SetDefaults_* for the built-in kinds, plus the defaults the
admission plugins every new pod meets add (service account, priority, the
not-ready/unreachable tolerations).

The functions in `pod` and `workloads` run where upstream's decoder defaults: on every
object a request carries (a created or updated object, the result of a patch or apply)
before the store compares it with the stored one; each kind's strategy
(kapi/registry/kinds) says which of them it uses. `PodAdmission` is the admission step
the Pod strategy asks for (create only). Pure functions over the request's object (in its
own group/version); they fill only what is missing and never overwrite what the client
set; running them twice changes nothing.
"""

from __future__ import annotations

from typing import Any

from kapi.defaulting import pod
from kapi.meta.resources import Resource

Obj = dict[str, Any]


class PodAdmission:
    """The admission step that gives every new pod what upstream's ServiceAccount,
    Priority and DefaultTolerationSeconds plugins give it."""

    def __init__(self, *, toleration_seconds: int = 300) -> None:
        self.toleration_seconds = toleration_seconds

    async def __call__(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        if op == "CREATE":
            pod.pod_admission(new, self.toleration_seconds)
