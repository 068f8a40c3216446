"""Creating, deleting and claiming a controller's pods (upstream controller_utils.go's
PodControl, ControllerRefManager and slowStartBatch).

`PodControl` creates and deletes pods through the API and records upstream's events on
the owner (SuccessfulCreate "Created pod: x", SuccessfulDelete "Deleted pod: x",
FailedCreate, FailedDelete); a create refused because the namespace is being deleted
records nothing and returns None (all later creations would fail the same way).
`slow_start_batch` issues many creations in doubling batches that stop at the first
failure. `RefManager` adopts orphans that match the owner's selector and releases owned
objects that no longer match (strategic-merge patches of ownerReferences, after a fresh
read shows the owner still exists); `claim_pods` runs it over the owner's indexed pods
and the namespace's orphans.

Must never mutate objects it is given (they come from shared informer caches), and
never talks to anything but the API client.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Iterable, Mapping

from runtime.client.events import EventRecorder
from runtime.client.informer import Informer
from runtime.client.resources import GVR, PODS
from runtime.client.rest import ApiError, Client
from runtime.util.meta import controller_ref, controller_uid, meta, owner_reference, uid_of
from runtime.util.pods import pod_from_template

Obj = dict[str, Any]

OWNER_INDEX = "controller-uid"
NAMESPACE_TERMINATING = "NamespaceTerminating"  # v1.NamespaceTerminatingCause


def namespace_terminating(e: ApiError) -> bool:
    """apierrors.HasStatusCause(err, NamespaceTerminatingCause): a StatusCause's type is
    serialised as its `reason`."""
    causes = (e.status.get("details") or {}).get("causes") or []
    return any(c.get("reason") == NAMESPACE_TERMINATING for c in causes)


def pod_key(pod: Mapping[str, Any]) -> str:
    return f"{meta(pod).get('namespace')}/{meta(pod).get('name')}"


def owner_key(obj: Obj | None, kind: str) -> str | None:
    """namespace/name of obj's controller if that controller is a `kind`."""
    if obj is None:
        return None
    ref = controller_ref(obj)
    if not ref or ref.get("kind") != kind:
        return None
    return f"{meta(obj).get('namespace')}/{ref.get('name')}"


def pod_for_owner(template: Mapping[str, Any], owner: Obj) -> Obj:
    """A new pod (generateName `<owner>-`) controlled by `owner`, from its pod template."""
    md = owner["metadata"]
    return pod_from_template(template, owner_reference(owner), md.get("namespace"),
                             generate_name=f"{md['name']}-")


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

    async def create(self, owner: Obj, pod: Obj) -> Obj | None:
        """Create `pod` for `owner`; None if the namespace is being deleted."""
        if not meta(pod).get("labels"):
            raise ValueError("unable to create pods, no labels")
        try:
            created = await self.client.create(PODS, pod, meta(owner).get("namespace"))
        except ApiError as e:
            if namespace_terminating(e):
                return None
            await self.recorder.warning(owner, "FailedCreate", f"Error creating: {e.message}")
            raise
        await self.recorder.normal(owner, "SuccessfulCreate",
                                   f"Created pod: {created['metadata']['name']}")
        return created

    async def delete(self, owner: Obj, pod: Mapping[str, Any]) -> bool:
        """Delete `pod`; False (and no event) if it was already gone."""
        name = meta(pod)["name"]
        try:
            await self.client.delete(PODS, name, meta(pod).get("namespace"))
        except ApiError as e:
            if e.not_found:
                return False
            await self.recorder.warning(owner, "FailedDelete", f"Error deleting: {e.message}")
            raise
        await self.recorder.normal(owner, "SuccessfulDelete", f"Deleted pod: {name}")
        return True


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
            meta_ = self.owner["metadata"]
            try:
                fresh = await self.fetch_owner()
                if fresh["metadata"].get("uid") != meta_["uid"]:
                    raise RuntimeError(f"original {meta_['namespace']}/{meta_['name']} is gone")
                if fresh["metadata"].get("deletionTimestamp"):
                    raise RuntimeError(f"{meta_['namespace']}/{meta_['name']} has just been "
                                       "deleted")
                self._can_adopt = True
            except (ApiError, RuntimeError) as e:
                self._can_adopt = e
        if isinstance(self._can_adopt, Exception):
            raise RuntimeError(f"can't adopt: {self._can_adopt}")

    async def _adopt(self, obj: Obj) -> None:
        patch = {"metadata": {"ownerReferences": [owner_reference(self.owner)],
                              "uid": uid_of(obj)}}
        md = obj["metadata"]
        await self.client.patch(self.gvr, md["name"], patch, md["namespace"],
                                patch_type="strategic")

    async def _release(self, obj: Obj) -> None:
        patch = {"metadata": {"ownerReferences": [{"$patch": "delete",
                                                   "uid": self.owner["metadata"]["uid"]}],
                              "uid": uid_of(obj)}}
        md = obj["metadata"]
        try:
            await self.client.patch(self.gvr, md["name"], patch, md["namespace"],
                                    patch_type="strategic")
        except ApiError as e:
            if not (e.not_found or e.code == 422):
                raise


# -- the owner index and claims over an informer ------------------------------------------
def _by_controller(obj: Obj) -> list[str]:
    uid = controller_uid(obj)
    return [uid] if uid else []


def ensure_owner_index(informer: Informer) -> None:
    if OWNER_INDEX not in informer.indexers:
        informer.add_index(OWNER_INDEX, _by_controller)


def owned_by(informer: Informer, owner: Mapping[str, Any]) -> list[Obj]:
    return informer.by_index(OWNER_INDEX, meta(owner).get("uid", ""))


async def claim_pods(client: Client, owner: Obj, owner_gvr: GVR, pods: Informer,
                     wants: Callable[[Obj], bool]) -> list[Obj]:
    """owner's pods (upstream ClaimPods): owned ones that still match, plus matching
    orphans it adopts; owned ones that no longer match are released."""
    md = owner["metadata"]

    async def fetch() -> Obj:
        return await client.get(owner_gvr, md["name"], md.get("namespace"))
    candidates = owned_by(pods, owner) + [p for p in pods.list(md.get("namespace"))
                                          if controller_ref(p) is None]
    refs = RefManager(client=client, gvr=PODS, owner=owner, match=wants, fetch_owner=fetch)
    claimed, errors = await refs.claim(candidates)
    if errors:
        raise errors[0]
    return claimed
