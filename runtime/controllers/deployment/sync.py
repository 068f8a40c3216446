"""The Deployment controller's writes (upstream sync.go): finding or creating the new
ReplicaSet with the right revision and annotations, scaling ReplicaSets (recording
ScalingReplicaSet "Scaled up replica set x from 0 to 3"), deleting ReplicaSets past
revisionHistoryLimit, and saving the Deployment's status and revision.

`d` is the reconciler's private working copy of the Deployment: methods here update
its status, revision annotation and resourceVersion in place as they write, so later
writes in the same sync do not conflict with earlier ones. Everything else handed in
(ReplicaSets from the cache) is copied before it is changed. Must never write pods.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Callable, Sequence

from runtime.client.events import EventRecorder
from runtime.client.resources import DEPLOYMENTS, REPLICASETS
from runtime.client.rest import ApiError, Client
from runtime.controllers.deployment.math import max_surge, new_rs_new_replicas, replicas
from runtime.controllers.deployment.status import (
    FAILED_RS_CREATE,
    FOUND_NEW_RS,
    NEW_RS_CREATED,
    PROGRESSING,
    has_progress_deadline,
    new_condition,
    same_status,
)
from runtime.controllers.deployment.util import (
    HASH_LABEL,
    REVISION,
    annotations_of,
    by_revision,
    equal_ignore_hash,
    find_new_replica_set,
    max_revision,
    pod_template_hash,
    replicas_annotations_need_update,
    set_deployment_revision,
    set_new_rs_annotations,
    set_replicas_annotations,
    spec_replicas,
)
from runtime.util.conditions import get_condition, set_condition
from runtime.util.meta import controller_ref, owner_reference, uid_of

Obj = dict[str, Any]


class DeploymentSync:
    def __init__(self, *, client: Client, recorder: EventRecorder,
                 clock: Callable[[], dt.datetime]) -> None:
        self.client, self.recorder, self.clock = client, recorder, clock

    # -- the Deployment --------------------------------------------------------------------
    async def save(self, d: Obj, *, status: bool = True, revision: bool = False) -> None:
        """Write d's status and/or revision annotation; absorb the new resourceVersion."""
        if status:
            self._absorb(d, await self.client.update_status(DEPLOYMENTS, d))
        if revision:
            # an update (what upstream's controller role allows it, not patch), made
            # conditional by d's resourceVersion: a spec written meanwhile must not look
            # observed by the status we write next
            self._absorb(d, await self.client.update(DEPLOYMENTS, d))

    @staticmethod
    def _absorb(d: Obj, written: Obj) -> None:
        meta = written.get("metadata") or {}
        d["metadata"]["resourceVersion"] = meta.get("resourceVersion")
        # A write of only our own revision annotation may move generation on servers
        # that count annotation changes (upstream does for Deployments): we saw it all.
        d["metadata"]["generation"] = meta.get("generation", d["metadata"].get("generation"))

    async def save_status(self, d: Obj, new_status: Obj) -> bool:
        """Write `new_status` unless it equals d's; returns whether it wrote."""
        if same_status(d.get("status"), new_status):
            return False
        d["status"] = new_status
        await self.save(d)
        return True

    # -- the new ReplicaSet ----------------------------------------------------------------
    async def new_replica_set(self, d: Obj, rss: Sequence[Obj], old_rss: Sequence[Obj],
                              create: bool) -> Obj | None:
        """The ReplicaSet for d's current template, its revision synced to max old + 1;
        created (scaled as far as the strategy allows) if missing and `create`."""
        existing = find_new_replica_set(d, rss)
        new_revision = str(max_revision(old_rss) + 1)
        if existing is not None:
            return await self._sync_existing(d, existing, new_revision)
        if not create:
            return None
        return await self._create(d, old_rss, new_revision)

    async def _sync_existing(self, d: Obj, existing: Obj, new_revision: str) -> Obj:
        rs = copy.deepcopy(existing)
        desired, most = replicas(d), replicas(d) + max_surge(d)
        changed = set_new_rs_annotations(d, rs, new_revision, True, desired, most)
        min_ready = int(d["spec"].get("minReadySeconds") or 0)
        if changed or int(rs["spec"].get("minReadySeconds") or 0) != min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
            return await self.client.update(REPLICASETS, rs)
        rev_changed = set_deployment_revision(d, annotations_of(rs).get(REVISION, ""))
        status_changed = False
        if has_progress_deadline(d) and get_condition(d.get("status") or {}, PROGRESSING) is None:
            msg = f'Found new replica set "{rs["metadata"]["name"]}"'
            set_condition(d.setdefault("status", {}), new_condition(
                PROGRESSING, "True", FOUND_NEW_RS, msg, self.clock()))
            status_changed = True
        if rev_changed or status_changed:
            await self.save(d, status=status_changed, revision=rev_changed)
        return rs

    def _new_rs_body(self, d: Obj, old_rss: Sequence[Obj], new_revision: str) -> Obj:
        spec = d["spec"]
        template = copy.deepcopy(spec.get("template") or {})
        h = pod_template_hash(spec.get("template") or {}, (d.get("status") or {}).get(
            "collisionCount"))
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = dict(tmeta.get("labels") or {}, **{HASH_LABEL: h})
        selector = copy.deepcopy(spec.get("selector") or {})
        selector["matchLabels"] = dict(selector.get("matchLabels") or {}, **{HASH_LABEL: h})
        rs: Obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "metadata": {"name": f"{d['metadata']['name']}-{h}",
                                "namespace": d["metadata"]["namespace"],
                                "labels": dict(tmeta["labels"]),
                                "ownerReferences": [owner_reference(d)]},
                   "spec": {"replicas": 0, "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                            "selector": selector, "template": template}}
        rs["spec"]["replicas"] = new_rs_new_replicas(d, [*old_rss, rs], rs)
        set_new_rs_annotations(d, rs, new_revision, False, replicas(d),
                               replicas(d) + max_surge(d))
        return rs

    async def _create(self, d: Obj, old_rss: Sequence[Obj], new_revision: str) -> Obj:
        body = self._new_rs_body(d, old_rss, new_revision)
        name, ns = body["metadata"]["name"], body["metadata"]["namespace"]
        try:
            created = await self.client.create(REPLICASETS, body, ns)
        except ApiError as e:
            if e.already_exists:
                return await self._on_collision(d, name, ns, e)
            await self._creation_failed(d, name, e)
            raise
        n = spec_replicas(created)
        if n > 0:
            await self.recorder.normal(d, "ScalingReplicaSet",
                                       f"Scaled up replica set {name} from 0 to {n}")
        rev_changed = set_deployment_revision(d, new_revision)
        if has_progress_deadline(d):
            set_condition(d.setdefault("status", {}), new_condition(
                PROGRESSING, "True", NEW_RS_CREATED, f'Created new replica set "{name}"',
                self.clock()))
        await self.save(d, status=has_progress_deadline(d), revision=rev_changed)
        return created

    async def _on_collision(self, d: Obj, name: str, ns: str, e: ApiError) -> Obj:
        """Our ReplicaSet (a slow cache) or a hash collision: then bump collisionCount."""
        rs = await self.client.get(REPLICASETS, name, ns)
        ref = controller_ref(rs)
        if ref is not None and ref.get("uid") == uid_of(d) and equal_ignore_hash(
                d["spec"].get("template"), rs["spec"].get("template")):
            return rs
        status = d.setdefault("status", {})
        status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
        await self.save(d)
        raise e

    async def _creation_failed(self, d: Obj, name: str, e: ApiError) -> None:
        if any(c.get("type") == "NamespaceTerminating"
               for c in (e.status.get("details") or {}).get("causes") or []):
            return
        msg = f'Failed to create new replica set "{name}": {e.message}'
        if has_progress_deadline(d):
            set_condition(d.setdefault("status", {}), new_condition(
                PROGRESSING, "False", FAILED_RS_CREATE, msg, self.clock()))
            try:
                await self.save(d)
            except ApiError:
                pass  # the failure to report matters more
        await self.recorder.warning(d, FAILED_RS_CREATE, msg)

    # -- scaling and clean-up --------------------------------------------------------------
    async def scale_and_record(self, rs: Obj, new_scale: int, d: Obj) -> tuple[bool, Obj]:
        if spec_replicas(rs) == new_scale:
            return False, rs
        op = "up" if spec_replicas(rs) < new_scale else "down"
        return await self.scale(rs, new_scale, d, op)

    async def scale(self, rs: Obj, new_scale: int, d: Obj, op: str) -> tuple[bool, Obj]:
        """Set rs's size and replica annotations; record ScalingReplicaSet on d."""
        resize = spec_replicas(rs) != new_scale
        desired, most = replicas(d), replicas(d) + max_surge(d)
        if not resize and not replicas_annotations_need_update(rs, desired, most):
            return False, rs
        old = spec_replicas(rs)
        body = copy.deepcopy(rs)
        body["spec"]["replicas"] = new_scale
        set_replicas_annotations(body, desired, most)
        updated = await self.client.update(REPLICASETS, body)
        if resize:
            await self.recorder.normal(d, "ScalingReplicaSet", f"Scaled {op} replica set "
                                       f"{rs['metadata']['name']} from {old} to {new_scale}")
        return resize, updated

    async def cleanup(self, old_rss: Sequence[Obj], d: Obj) -> None:
        """Delete the oldest revisions past revisionHistoryLimit (only empty, settled ones)."""
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old_rss if not rs["metadata"].get("deletionTimestamp")]
        diff = len(alive) - int(limit)
        for rs in sorted(alive, key=by_revision)[:max(diff, 0)]:
            status, meta = rs.get("status") or {}, rs["metadata"]
            if (status.get("replicas") or spec_replicas(rs)
                    or meta.get("generation", 0) > status.get("observedGeneration", 0)):
                continue
            try:
                await self.client.delete(REPLICASETS, meta["name"], meta["namespace"])
            except ApiError as e:
                if not e.not_found:
                    raise
