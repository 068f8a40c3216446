"""QueuedRecorder (runtime/client/events.py) against a real API server: the caller does
not wait for the write, the event names the object as it was when recorded, events go
out in order (a repeat bumps `count`), and stop() sends what is still queued."""

from __future__ import annotations

import asyncio
from typing import Any

from runtime.client.events import EventRecorder, QueuedRecorder
from runtime.client.resources import EVENTS
from tests.conftest import Server


def test_queued_events_are_sent_in_order_and_drained_on_stop(server: Server) -> None:
    async def go() -> list[tuple[str, str, int]]:
        client = server.runtime_client()
        try:
            queued = QueuedRecorder(EventRecorder(client, "queued-test"))
            queued.start()
            obj: dict[str, Any] = {"kind": "ConfigMap", "apiVersion": "v1",
                   "metadata": {"name": "qe", "namespace": "default", "uid": "u-qe"}}
            await queued.normal(obj, "First", "one")
            obj["metadata"]["name"] = "changed-after"  # recorded already: not seen
            # normal() never awaits the write: nothing can have been sent yet
            assert not (await client.list(EVENTS, "default",
                                          fieldSelector="involvedObject.uid=u-qe"))["items"]
            obj["metadata"]["name"] = "qe"
            await queued.warning(obj, "Second", "two")
            await queued.warning(obj, "Second", "two")
            await queued.stop()
            items = (await client.list(EVENTS, "default",
                                       fieldSelector="involvedObject.uid=u-qe"))["items"]
            # stamps have second precision: compare as a sorted list, not by time
            return sorted((e["involvedObject"]["name"], e["reason"], e["count"])
                          for e in items)
        finally:
            await client.close()
    assert asyncio.run(go()) == [("qe", "First", 1), ("qe", "Second", 2)]
