"""Creating and deleting a controller's pods, and claiming objects by controllerRef.

`pod_from_template` builds a pod from a PodTemplateSpec (labels, annotations,
finalizers, spec; generateName `<owner>-`; the owner's controller reference).
`PodControl` creates and deletes pods through the API and records upstream's events
(SuccessfulCreate "Created pod: x", SuccessfulDelete "Deleted pod: x", FailedCreate,
FailedDelete) on the owner; `slow_start_batch` issues many creations in doubling batches
that stop at the first failure. `RefManager` is upstream's ControllerRefManager: it adopts
orphans that match the owner's selector and releases owned objects that no longer
match, with strategic-merge patches of ownerReferences.

Must never mutate objects it is given (they come from shared informer caches), and
never talks to anything but the API client.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any, Awaitable, Callable, Iterable

from runtime.client.events import EventRecorder
from runtime.client.resources import GVR, PODS
from runtime.client.rest import ApiError, Client
from runtime.controllers.base import controller_ref, owner_reference
from runtime.controllers.common.podutil import uid_of

Obj = dict[str, Any]


def namespace_terminating(e: ApiError) -> bool:
    causes = (e.status.get("details") or {}).get("causes") or []
    return any(c.get("type") == "NamespaceTerminating" for c in causes)


def pod_from_template(template: Obj, owner: Obj) -> Obj:
    """A new pod (without name) for `owner` from its pod template."""
    tmeta = template.get("metadata") or {}
    meta: Obj = {"generateName": f"{owner['metadata']['name']}-",
                 "labels": dict(tmeta.get("labels") or {}),
                 "ownerReferences": [owner_reference(owner)]}
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": copy.deepcopy(template.get("spec") or {})}


SLOW_START_INITIAL_BATCH = 1


async def slow_start_batch(count: int, fn: Callable[[], Awaitable[Any]], *,
                           initial: int = SLOW_START_INITIAL_BATCH
                           ) -> tuple[int, BaseException | None]:
    """Call `fn` `count` times in batches of 1, 2, 4, ... (all of a batch at once),
    stopping after the first batch with a failure, so a systematic error (a quota, a
    bad template) costs a few requests, not `count`. Returns (successes, first error)."""
    remaining, successes = count, 0
    batch = min(remaining, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        successes += batch - len(errors)
        if errors:
            return successes, errors[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


class PodControl:
    def __init__(self, *, client: Client, recorder: EventRecorder) -> None:
        self.client, self.recorder = client, recorder

    async def create_pod(self, namespace: str, template: Obj, owner: Obj) -> Obj:
        pod = pod_from_template(template, owner)
        if not pod["metadata"]["labels"]:
            raise ValueError("unable to create pods, no labels")
        try:
            created = await self.client.create(PODS, pod, namespace)
        except ApiError as e:
            if not namespace_terminating(e):
                await self.recorder.warning(owner, "FailedCreate", f"Error creating: {e.message}")
            raise
        await self.recorder.normal(owner, "SuccessfulCreate",
                                   f"Created pod: {created['metadata']['name']}")
        return created

    async def delete_pod(self, namespace: str, name: str, owner: Obj) -> None:
        try:
            await self.client.delete(PODS, name, namespace)
        except ApiError as e:
            if not e.not_found:
                await self.recorder.warning(owner, "FailedDelete", f"Error deleting: {e.message}")
            raise
        await self.recorder.normal(owner, "SuccessfulDelete", f"Deleted pod: {name}")


class RefManager:
    """Claims objects of `gvr` for `owner`: adopt matching orphans, release mismatches."""

    def __init__(self, *, client: Client, gvr: GVR, owner: Obj, match: Callable[[Obj], bool],
                 fetch_owner: Callable[[], Awaitable[Obj]]) -> None:
        self.client, self.gvr, self.owner, self.match = client, gvr, owner, match
        self.fetch_owner = fetch_owner
        self._can_adopt: Exception | None | bool = None  # checked once, lazily

    async def claim(self, objs: Iterable[Obj]) -> tuple[list[Obj], list[Exception]]:
        claimed: list[Obj] = []
        errors: list[Exception] = []
        for obj in objs:
            try:
                if await self._claim_one(obj):
                    claimed.append(obj)
            except ApiError as e:
                if not e.not_found:
                    errors.append(e)
            except RuntimeError as e:
                errors.append(e)
        return claimed, errors

    async def _claim_one(self, obj: Obj) -> bool:
        owner_meta = self.owner["metadata"]
        ref = controller_ref(obj)
        if ref is not None:
            if ref.get("uid") != owner_meta["uid"]:
                return False
            if self.match(obj):
                return True
            if owner_meta.get("deletionTimestamp"):
                return False
            await self._release(obj)
            return False
        if owner_meta.get("deletionTimestamp") or not self.match(obj):
            return False
        if obj["metadata"].get("deletionTimestamp"):
            return False
        if obj["metadata"].get("namespace") != owner_meta.get("namespace"):
            return False
        await self._check_can_adopt()
        await self._adopt(obj)
        return True

    async def _check_can_adopt(self) -> None:
        """Adopt only if a fresh read shows the owner still exists and is not deleted."""
        if self._can_adopt is None:
            meta = self.owner["metadata"]
            try:
                fresh = await self.fetch_owner()
                if fresh["metadata"].get("uid") != meta["uid"]:
                    raise RuntimeError(f"original {meta['namespace']}/{meta['name']} is gone")
                if fresh["metadata"].get("deletionTimestamp"):
                    raise RuntimeError(f"{meta['namespace']}/{meta['name']} has just been deleted")
                self._can_adopt = True
            except (ApiError, RuntimeError) as e:
                self._can_adopt = e
        if isinstance(self._can_adopt, Exception):
            raise RuntimeError(f"can't adopt: {self._can_adopt}")

    async def _adopt(self, obj: Obj) -> None:
        patch = {"metadata": {"ownerReferences": [owner_reference(self.owner)],
                              "uid": uid_of(obj)}}
        meta = obj["metadata"]
        await self.client.patch(self.gvr, meta["name"], patch, meta["namespace"],
                                patch_type="strategic")

    async def _release(self, obj: Obj) -> None:
        patch = {"metadata": {"ownerReferences": [{"$patch": "delete",
                                                   "uid": self.owner["metadata"]["uid"]}],
                              "uid": uid_of(obj)}}
        meta = obj["metadata"]
        try:
            await self.client.patch(self.gvr, meta["name"], patch, meta["namespace"],
                                    patch_type="strategic")
        except ApiError as e:
            if not (e.not_found or e.code == 422):
                raise
