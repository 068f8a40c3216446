"""The ReplicationController controller: the ReplicaSet controller, reused whole, over
the adapter that shows RCs as ReplicaSets (as upstream's replication controller is).

Everything a ReplicaSet gets, an RC gets the same way: pods claimed, adopted and
released by controllerRef, slow-start creation, deletion order, expectations and the
status it writes. Only reads and writes of the RC itself pass through the adapter.
"""

from __future__ import annotations

from typing import Any

from runtime.client.resources import REPLICATIONCONTROLLERS
from runtime.controllers.context import ControllerContext
from runtime.controllers.replicaset.controller import ReplicaSetController
from runtime.controllers.replicationcontroller.adapter import (
    InformerAdapter,
    as_replica_set,
    as_replication_controller,
)

Obj = dict[str, Any]


class ReplicationControllerController(ReplicaSetController):
    kind = "ReplicationController"
    gvr = REPLICATIONCONTROLLERS
    name = "replicationcontroller"

    def owner_informer(self, ctx: ControllerContext) -> Any:
        return InformerAdapter(ctx.informers.get(REPLICATIONCONTROLLERS))

    def from_api(self, obj: Obj) -> Obj:
        return as_replica_set(obj)

    def to_api(self, rs: Obj) -> Obj:
        return as_replication_controller(rs)
