"""The storage protocol: a small revisioned key-value store modelled on etcd.

Every write bumps one cluster-wide revision; a key's mod_revision is the revision of its
last write and becomes the object's resourceVersion. Values are opaque bytes (the API
server stores JSON). Backends know nothing of Kubernetes objects.

Contract (every backend passes tests/storage/test_contract.py):
- revisions start at 1 for the first write and increase by exactly 1 per write
  (create, update, delete each make one revision);
- `list` at revision R returns the state as it was right after revision R, keys sorted;
  R older than the compacted revision raises Compacted;
- `watch(prefix, after)` yields every event with revision > after, in revision order,
  none lost and none twice, first the recorded history and then live events; `after`
  older than the compacted revision raises Compacted (before yielding anything);
- a write acknowledged (returned) is durable for the persistent backends, even if the
  process is killed with SIGKILL right after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator, Protocol


class StorageError(Exception):
    """Base of every storage error; the API layer translates these once."""


class KeyExists(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class Conflict(StorageError):
    """The key's mod_revision differs from the expected one."""

    def __init__(self, key: str, expected: int, actual: int) -> None:
        super().__init__(f"conflict on {key}: expected revision {expected}, found {actual}")
        self.key, self.expected, self.actual = key, expected, actual


class Compacted(StorageError):
    """The requested revision is older than the oldest one kept."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"revision {requested} has been compacted (oldest kept: {compacted})")
        self.requested, self.compacted = requested, compacted


class FutureRevision(StorageError):
    """The requested revision is newer than the store's current revision."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"revision {requested} is in the future (current: {current})")
        self.requested, self.current = requested, current


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class Event:
    type: str  # "PUT" (create or update) or "DELETE"
    kv: KeyValue  # for DELETE: key, the last value, mod_revision = the delete's revision
    prev: KeyValue | None  # the value before this event (None for a create)
    revision: int

    @property
    def is_create(self) -> bool:
        return self.type == "PUT" and self.prev is None


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int  # the revision the list was read at
    more: bool  # True when limit cut the list short


class Storage(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def current_revision(self) -> int: ...

    async def compacted_revision(self) -> int: ...

    async def get(self, key: str) -> KeyValue | None: ...

    async def list(
        self, prefix: str, *, revision: int = 0, start_after: str = "", limit: int = 0
    ) -> ListResult:
        """Keys starting with prefix, sorted, greater than start_after; revision 0 = now."""
        ...

    async def count(self, prefix: str, *, revision: int = 0, start_after: str = "") -> int:
        """How many keys list() would return with no limit (for a list's
        remainingItemCount, as etcd's range count gives upstream)."""
        ...

    async def create(self, key: str, value: bytes) -> KeyValue:
        """Raises KeyExists."""
        ...

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        """expected_revision 0 = unconditional (revisions start at 1, so no key has
        mod_revision 0; mirrors delete). Raises KeyNotFound, Conflict."""
        ...

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        """Returns the deleted KeyValue with mod_revision = the delete's revision.
        expected_revision 0 = unconditional. Raises KeyNotFound, Conflict."""
        ...

    def watch(self, prefix: str, *, after: int) -> AsyncIterator[Event]:
        """Events on keys under prefix with revision > after. Raises Compacted."""
        ...

    async def compact(self, revision: int) -> None:
        """Forget history at and before revision, keeping the latest value of each key."""
        ...
