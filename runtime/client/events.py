"""An event recorder: controllers and the scheduler report what they did as core/v1
Events (what `kubectl describe` shows). Repeats of the same event within the series
window bump `count` and `lastTimestamp` instead of creating a new object, as upstream's
recorder does. Failures to record never fail the caller.

`host` fills source.host (kubectl describe prints it after the component); `instance`
fills reportingInstance alone (defaults to `host`), e.g. a scheduler's leader identity.
QueuedRecorder wraps one so that its callers never wait for the write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

from runtime.client.resources import EVENTS
from runtime.client.rest import ApiError, Client
from runtime.util.clock import Clock, system_clock
from runtime.util.times import format_time

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class EventRecorder:
    def __init__(self, client: Client, component: str, *, host: str = "", instance: str = "",
                 clock: Clock = system_clock) -> None:
        self.client, self.component, self.host, self.clock = client, component, host, clock
        self.instance = instance or host
        self._seen: dict[tuple[str, ...], tuple[str, str, int]] = {}  # key -> (ns, name, count)

    async def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        meta = obj.get("metadata", {})
        ns = meta.get("namespace") or "default"
        ref = {"kind": obj.get("kind", ""), "namespace": meta.get("namespace", ""),
               "name": meta.get("name", ""), "uid": meta.get("uid", ""),
               "apiVersion": obj.get("apiVersion", ""),
               "resourceVersion": meta.get("resourceVersion", "")}
        key = (ns, ref["kind"], ref["name"], ref["uid"], type_, reason, message)
        now = format_time(self.clock())
        try:
            if key in self._seen:
                ens, ename, count = self._seen[key]
                await self.client.patch(EVENTS, ename, {"count": count + 1, "lastTimestamp": now},
                                        ens)
                self._seen[key] = (ens, ename, count + 1)
                return
            name = f"{ref['name']}.{secrets.token_hex(8)}"
            body = {"apiVersion": "v1", "kind": "Event",
                    "metadata": {"name": name, "namespace": ns},
                    "involvedObject": ref, "reason": reason, "message": message, "type": type_,
                    "source": {"component": self.component, **({"host": self.host} if self.host else {})},
                    "firstTimestamp": now, "lastTimestamp": now, "count": 1,
                    "reportingComponent": self.component, "reportingInstance": self.instance}
            await self.client.create(EVENTS, body, ns)
            if len(self._seen) > 4096:
                self._seen.clear()
            self._seen[key] = (ns, name, 1)
        except ApiError as e:
            log.debug("recording event %s on %s/%s failed: %s", reason, ns, ref["name"], e)
        except Exception as e:  # the API may be going away at shutdown
            log.debug("recording event failed: %r", e)

    async def normal(self, obj: Obj, reason: str, message: str) -> None:
        await self.event(obj, "Normal", reason, message)

    async def warning(self, obj: Obj, reason: str, message: str) -> None:
        await self.event(obj, "Warning", reason, message)


class QueuedRecorder:
    """An EventRecorder whose callers do not wait for the write: `normal`/`warning` queue
    the event, as upstream's recorder hands events to its broadcaster, and `senders`
    tasks write them; the events of one object always go through the same sender, in
    order (so a repeat bumps the count of the first). A full queue drops the event
    (logged), as upstream's does; so a slow API server delays events, never the caller's
    reconcile. `start()` in a running loop; `stop()` sends what is queued (bounded by
    `drain` seconds) and ends the tasks."""

    def __init__(self, recorder: EventRecorder, *, size: int = 1000, senders: int = 4,
                 drain: float = 5.0) -> None:
        self.recorder, self.drain = recorder, drain
        self._queues: list[asyncio.Queue[tuple[Obj, str, str, str]]] = [
            asyncio.Queue(max(size // senders, 1)) for _ in range(senders)]
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._send(q), name="events")
                           for q in self._queues]

    async def stop(self) -> None:
        if not self._tasks:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(q.join() for q in self._queues)),
                                   self.drain)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _send(self, queue: asyncio.Queue[tuple[Obj, str, str, str]]) -> None:
        while True:
            obj, type_, reason, message = await queue.get()
            try:
                await self.recorder.event(obj, type_, reason, message)  # never raises
            finally:
                queue.task_done()

    def _put(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        # what the event names of the object, taken now: the caller goes on changing it
        ref = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""),
               "metadata": dict(obj.get("metadata") or {})}
        meta = ref["metadata"]
        queue = self._queues[hash((meta.get("namespace"), meta.get("name"))) %
                             len(self._queues)]
        try:
            queue.put_nowait((ref, type_, reason, message))
        except asyncio.QueueFull:
            log.warning("event queue full: dropped %s %s on %s", type_, reason,
                        (obj.get("metadata") or {}).get("name", ""))

    async def normal(self, obj: Obj, reason: str, message: str) -> None:
        self._put(obj, "Normal", reason, message)

    async def warning(self, obj: Obj, reason: str, message: str) -> None:
        self._put(obj, "Warning", reason, message)
