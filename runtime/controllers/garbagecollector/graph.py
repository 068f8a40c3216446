"""The garbage collector's pure core: the owner -> dependents graph and its decisions.

The graph is keyed by uid and fed with observed objects (`observe`, `forget`); each
change returns the uids the collector must look at (`Work`). `plan_dependent` and
`plan_foreground_owner` decide, from an object and the state of its owners, what to do
(as upstream's attemptToDeleteItem / processDeletingDependentsItem). Nothing here does
I/O, reads a clock or mutates an object it is given.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


@dataclass(frozen=True)
class Identity:
    api_version: str
    kind: str
    namespace: str  # the dependent's namespace for a virtual owner; "" if cluster-scoped
    name: str
    uid: str


@dataclass
class Node:
    identity: Identity
    owners: list[Obj] = field(default_factory=list)  # ownerReferences as last observed
    dependents: set[str] = field(default_factory=set)
    observed: bool = True  # False: known only as someone's owner ("virtual")
    being_deleted: bool = False
    deleting_dependents: bool = False  # deletionTimestamp + foregroundDeletion
    orphaning: bool = False  # deletionTimestamp + orphan

    def blocks(self, owner_uid: str) -> bool:
        """Does this node's reference to `owner_uid` block the owner's foreground deletion?"""
        return any(r.get("uid") == owner_uid and r.get("blockOwnerDeletion")
                   for r in self.owners)


@dataclass
class Work:
    attempt_delete: set[str] = field(default_factory=set)
    attempt_orphan: set[str] = field(default_factory=set)

    def merge(self, other: Work) -> Work:
        self.attempt_delete |= other.attempt_delete
        self.attempt_orphan |= other.attempt_orphan
        return self


def identity_of(obj: Obj) -> Identity:
    m = obj["metadata"]
    return Identity(obj.get("apiVersion", ""), obj.get("kind", ""), m.get("namespace") or "",
                    m["name"], m["uid"])


def finalizers(obj: Obj) -> list[str]:
    return list(obj.get("metadata", {}).get("finalizers") or [])


def deleting_with(obj: Obj, finalizer: str) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp")) and finalizer in finalizers(obj)


class Graph:
    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}

    def __len__(self) -> int:
        return len(self.nodes)

    def get(self, uid: str) -> Node | None:
        return self.nodes.get(uid)

    def observe(self, obj: Obj) -> Work:
        """An object was added or updated."""
        ident = identity_of(obj)
        refs = [dict(r) for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid")]
        node = self.nodes.get(ident.uid)
        work = Work()
        if node is None:
            node = self.nodes[ident.uid] = Node(ident)
            old_refs: list[Obj] = []
        else:
            if not node.observed:
                work.attempt_delete |= node.dependents  # their owner turned out to exist
            node.identity, node.observed = ident, True
            old_refs = node.owners
        node.owners = refs
        work.merge(self._relink(node, old_refs, refs))
        return work.merge(self._transitions(node, obj))

    def forget(self, obj: Obj) -> Work:
        """An object was deleted: its dependents may now be garbage, and an owner waiting
        for it may now be free to go."""
        uid = obj["metadata"]["uid"]
        node = self.nodes.pop(uid, None)
        work = Work()
        if node is None:
            return work
        work.attempt_delete |= node.dependents
        for ref in node.owners:
            owner = self.nodes.get(ref["uid"])
            if owner is None:
                continue
            owner.dependents.discard(uid)
            if owner.deleting_dependents:
                work.attempt_delete.add(owner.identity.uid)
            self._drop_if_unused(owner)
        return work

    def blocking_dependents(self, uid: str) -> list[Node]:
        node = self.nodes.get(uid)
        if node is None:
            return []
        deps = (self.nodes.get(d) for d in node.dependents)
        return [d for d in deps if d is not None and d.blocks(uid)]

    # -- internals ----------------------------------------------------------------------
    def _relink(self, node: Node, old: list[Obj], new: list[Obj]) -> Work:
        work = Work()
        old_by, new_by = {r["uid"]: r for r in old}, {r["uid"]: r for r in new}
        for uid, ref in new_by.items():
            owner = self.nodes.get(uid)
            if owner is None:
                owner = self.nodes[uid] = Node(_virtual_identity(ref, node.identity),
                                               observed=False)
            owner.dependents.add(node.identity.uid)
            if not owner.observed or owner.being_deleted:
                work.attempt_delete.add(node.identity.uid)  # verify the owner live
        for uid, ref in old_by.items():
            owner = self.nodes.get(uid)
            if owner is None:
                continue
            unblocked = ref.get("blockOwnerDeletion") and not (new_by.get(uid) or {}).get(
                "blockOwnerDeletion")
            if uid not in new_by:
                owner.dependents.discard(node.identity.uid)
            if unblocked and owner.deleting_dependents:
                work.attempt_delete.add(uid)
            self._drop_if_unused(owner)
        return work

    def _transitions(self, node: Node, obj: Obj) -> Work:
        work = Work()
        node.being_deleted = bool(obj["metadata"].get("deletionTimestamp"))
        node.orphaning = deleting_with(obj, ORPHAN)
        node.deleting_dependents = deleting_with(obj, FOREGROUND)
        if node.orphaning:
            work.attempt_orphan.add(node.identity.uid)
        if node.deleting_dependents:
            work.attempt_delete.add(node.identity.uid)
            work.attempt_delete |= node.dependents
        return work

    def _drop_if_unused(self, node: Node) -> None:
        if not node.observed and not node.dependents:
            self.nodes.pop(node.identity.uid, None)


def _virtual_identity(ref: Obj, dependent: Identity) -> Identity:
    return Identity(ref.get("apiVersion", ""), ref.get("kind", ""), dependent.namespace,
                    ref.get("name", ""), ref["uid"])


# -- decisions -------------------------------------------------------------------------
class OwnerState(enum.Enum):
    ABSENT = "absent"  # 404, or a different object under that name (uid differs)
    WAITING = "waiting"  # being deleted in the foreground: waits for its dependents
    SOLID = "solid"  # exists (or cannot be checked: never collect on doubt)


def owner_state(ref: Obj, live: Obj | None) -> OwnerState:
    """Classify one owner from its live object (None: not found)."""
    if live is None or live.get("metadata", {}).get("uid") != ref.get("uid"):
        return OwnerState.ABSENT
    if deleting_with(live, FOREGROUND):
        return OwnerState.WAITING
    return OwnerState.SOLID


class Action(enum.Enum):
    NONE = "none"
    DELETE = "delete"  # with `policy`
    REMOVE_REFS = "remove-refs"  # drop the ownerReferences in `uids`
    REMOVE_FINALIZER = "remove-finalizer"  # drop foregroundDeletion from the owner
    WAIT = "wait"  # for the dependents in `uids`


@dataclass
class Plan:
    action: Action
    policy: str | None = None
    uids: list[str] = field(default_factory=list)
    unblock: bool = False  # first set blockOwnerDeletion=false on the object's references


def plan_dependent(obj: Obj, states: dict[str, OwnerState], has_dependents: bool,
                   dependent_deleting_dependents: bool = False) -> Plan:
    """What to do with an object, given the state of each of its owners (by uid).

    An object whose owners all wait for their dependents, and which has a dependent that
    itself waits in the foreground, may sit in a cycle of foreground deletions: as
    upstream does, its references are made non-blocking before it is deleted in the
    foreground, so the owners are no longer held by it."""
    refs = obj["metadata"].get("ownerReferences") or []
    if not refs:
        return Plan(Action.NONE)
    by_state: dict[OwnerState, list[str]] = {s: [] for s in OwnerState}
    for r in refs:
        by_state[states.get(r.get("uid", ""), OwnerState.SOLID)].append(r["uid"])
    solid, absent, waiting = (by_state[OwnerState.SOLID], by_state[OwnerState.ABSENT],
                              by_state[OwnerState.WAITING])
    if solid:
        if absent or waiting:  # keep the object; let go of owners that are gone or going
            return Plan(Action.REMOVE_REFS, uids=absent + waiting)
        return Plan(Action.NONE)
    if waiting and has_dependents:
        return Plan(Action.DELETE, policy="Foreground", unblock=dependent_deleting_dependents)
    return Plan(Action.DELETE, policy=_policy_from_finalizers(obj))


def _policy_from_finalizers(obj: Obj) -> str:
    fins = finalizers(obj)
    if ORPHAN in fins:
        return "Orphan"
    if FOREGROUND in fins:
        return "Foreground"
    return "Background"


def plan_foreground_owner(graph: Graph, uid: str) -> Plan:
    """An owner deleted in the foreground: wait while blocking dependents remain, then
    remove the finalizer."""
    blocking = graph.blocking_dependents(uid)
    if not blocking:
        return Plan(Action.REMOVE_FINALIZER)
    return Plan(Action.WAIT, uids=sorted(d.identity.uid for d in blocking
                                         if not d.deleting_dependents))


def without_owner_refs(obj: Obj, uids: set[str]) -> list[Obj]:
    """obj's ownerReferences minus those whose uid is in `uids` (obj is not modified)."""
    return [dict(r) for r in obj["metadata"].get("ownerReferences") or []
            if r.get("uid") not in uids]


def unblocked_owner_refs(obj: Obj) -> list[Obj] | None:
    """obj's ownerReferences with every blockOwnerDeletion=true made false; None if none
    blocks (obj is not modified)."""
    refs = [dict(r) for r in obj["metadata"].get("ownerReferences") or []]
    blocking = [r for r in refs if r.get("blockOwnerDeletion")]
    for r in blocking:
        r["blockOwnerDeletion"] = False
    return refs if blocking else None


def without_finalizer(obj: Obj, name: str) -> list[str]:
    return [f for f in finalizers(obj) if f != name]
