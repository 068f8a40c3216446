"""ReplicationControllers seen as ReplicaSets, and back (upstream's replication package
runs its ReplicaSet controller over the same kind of adapter).

The two kinds differ, for the controller, only in the selector: an RC's is a plain label
map where a ReplicaSet's is a LabelSelector. Views are shallow copies with that one field
converted; they keep the RC's kind and apiVersion so owner references, events and
writes name the ReplicationController. Never mutates the informer's objects.
"""

from __future__ import annotations

import builtins
from typing import Any, Callable

from runtime.client.informer import Informer

Obj = dict[str, Any]
Handler = Callable[[str, Obj | None, Obj | None], None]


def as_replica_set(rc: Obj) -> Obj:
    spec = rc.get("spec")
    if not isinstance(spec, dict):
        return rc
    selector = spec.get("selector")
    labels = selector if isinstance(selector, dict) else {}
    return dict(rc, spec=dict(spec, selector={"matchLabels": dict(labels)}))


def as_replication_controller(rs: Obj) -> Obj:
    spec = rs.get("spec")
    if not isinstance(spec, dict):
        return rs
    selector = spec.get("selector") or {}
    return dict(rs, spec=dict(spec, selector=dict(selector.get("matchLabels") or {})))


def _view(obj: Obj | None) -> Obj | None:
    return None if obj is None else as_replica_set(obj)


class InformerAdapter:
    """The parts of an Informer the ReplicaSet controller uses, over RCs."""

    def __init__(self, informer: Informer) -> None:
        self.informer = informer

    def add_handler(self, handler: Handler) -> None:
        self.informer.add_handler(lambda event, old, new: handler(event, _view(old), _view(new)))

    def get(self, key: str) -> Obj | None:
        return _view(self.informer.get(key))

    def list(self, namespace: str | None = None) -> builtins.list[Obj]:
        return [as_replica_set(o) for o in self.informer.list(namespace)]
