"""Single-object watches of the ConfigMaps and Secrets a node's pods use.

Upstream's kubelet (its watch-based secret and configmap managers) reads only the
objects its pods refer to, one reflector per object, and that is all the Node authorizer
lets a node read: a list and watch, in the object's namespace, with the field selector
`metadata.name=NAME`. `ObjectWatches` keeps one such Informer per referenced (resource,
namespace, name), counted by the pods that refer to it: started when the first pod
refers to the object, stopped when the last one is gone.

Each watch holds an HTTP/1.1 connection for as long as it runs, so the watches have a
client of their own with a pool sized for many objects (WATCH_CONNECTIONS), and the
kubelet's other requests never wait behind them.

It never lists or watches a whole collection, and never mutates what it caches.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from runtime.client.informer import Informer
from runtime.client.resources import CONFIGMAPS, SECRETS
from runtime.client.rest import Client
from runtime.kubelet.envsources import referenced

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (resource, namespace, name)
OnChange = Callable[[str, str, str], None]  # (resource, namespace, name) changed
_GVRS = {"configmaps": CONFIGMAPS, "secrets": SECRETS}
WATCH_CONNECTIONS = 2000


def keys_of(pod: Obj) -> set[Key]:
    """The (resource, namespace, name) of every ConfigMap and Secret the pod uses."""
    ns = pod["metadata"].get("namespace", "")
    cms, secrets = referenced(pod)
    return {("configmaps", ns, n) for n in cms} | {("secrets", ns, n) for n in secrets}


class ObjectWatches:
    def __init__(self, client: Client, on_change: OnChange) -> None:
        self.client = client.sibling(max_connections=WATCH_CONNECTIONS,
                                     user_agent=client.http.headers.get("User-Agent",
                                                                        "kapi-kubelet"))
        self.on_change = on_change
        self._own_client = self.client is not client
        self._informers: dict[Key, Informer] = {}
        self._users: dict[Key, set[str]] = {}  # key -> uids of the pods using it
        self._pods: dict[str, set[Key]] = {}   # uid -> keys it uses
        self._stopping: set[asyncio.Task[None]] = set()

    def track(self, uid: str, pod: Obj) -> None:
        """The pod (new or changed) uses what its spec names now. Call in the loop."""
        keys = keys_of(pod)
        old = self._pods.get(uid, set())
        self._pods[uid] = keys
        for key in keys - old:
            self._users.setdefault(key, set()).add(uid)
            if key not in self._informers:
                self._informers[key] = self._start(key)
        self._release(uid, old - keys)

    def forget(self, uid: str) -> None:
        """The pod is gone: stop the watches no other pod needs."""
        self._release(uid, self._pods.pop(uid, set()))

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        inf = self._informers.get((resource, namespace, name))
        return inf.get(f"{namespace}/{name}") if inf is not None else None

    async def wait_synced(self, pod: Obj, timeout: float = 10.0) -> None:
        """Until every object the pod uses has been read once (present or absent), or
        `timeout`: a pod's first sync then sees its Secrets rather than a missing one.
        An object still unread reads as absent and the pod waits for it (its watch
        wakes the pod when it comes)."""
        waits = [inf.synced.wait() for key in keys_of(pod)
                 if (inf := self._informers.get(key)) is not None and not inf.synced.is_set()]
        if not waits:
            return
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*waits)
        except TimeoutError:
            log.info("objects of pod %s/%s not read within %.0f s",
                     pod["metadata"].get("namespace"), pod["metadata"].get("name"), timeout)

    def watched(self) -> set[Key]:
        return set(self._informers)

    async def stop(self) -> None:
        informers, self._informers = list(self._informers.values()), {}
        await asyncio.gather(*(inf.stop() for inf in informers), *self._stopping)
        if self._own_client:
            await self.client.close()

    # -- inside --------------------------------------------------------------------------
    def _start(self, key: Key) -> Informer:
        resource, ns, name = key
        inf = Informer(self.client, _GVRS[resource], namespace=ns,
                       field_selector=f"metadata.name={name}")
        inf.add_handler(lambda _event, _old, _new: self.on_change(*key))
        inf.start()
        return inf

    def _release(self, uid: str, keys: set[Key]) -> None:
        for key in keys:
            users = self._users.get(key, set())
            users.discard(uid)
            if users:
                continue
            self._users.pop(key, None)
            inf = self._informers.pop(key, None)
            if inf is not None:
                task = asyncio.ensure_future(inf.stop())
                self._stopping.add(task)  # held until done (the loop keeps weak refs)
                task.add_done_callback(self._stopping.discard)
