"""A watch opened over the official client's HTTP connection, read on a thread.

Owns turning a watch response into a queue of (type, object-model) events and upstream's
expectEvent/expectNoEvent semantics (wait for an event of a type and, optionally, equal
to an object; other events are consumed and skipped). Never retries or re-lists: a port
that needs a retrying watch says so itself.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any, Callable

from kubernetes import client

CLOSED = object()


class Watch:
    def __init__(self, api: client.ApiClient, list_fn: Callable[..., Any], model: str,
                 *args: Any, **kw: Any) -> None:
        self.api, self.model = api, model
        self.events: queue.Queue[Any] = queue.Queue()
        kw.setdefault("timeout_seconds", 600)
        self.resp = list_fn(*args, watch=True, _preload_content=False, **kw)
        self._stopped = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        try:
            for chunk in self.resp.stream(4096, decode_content=True):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        self.events.put(self._decode(json.loads(line)))
        except Exception:  # a stopped watch ends here; a broken one is seen as closed
            pass
        self.events.put(CLOSED)

    def _decode(self, ev: dict[str, Any]) -> tuple[str, Any]:
        if ev.get("type") == "ERROR":
            return "ERROR", ev.get("object")
        return ev["type"], self.api._ApiClient__deserialize(ev["object"], self.model)

    def next(self, timeout: float) -> tuple[str, Any] | None:
        """The next event, None after timeout; a closed watch fails the test."""
        try:
            ev = self.events.get(timeout=timeout)
        except queue.Empty:
            return None
        if ev is CLOSED:
            raise AssertionError("watch closed unexpectedly")
        return ev  # type: ignore[no-any-return]

    def wait_for(self, etype: str, obj: Any, timeout: float) -> tuple[str, Any] | None:
        return self.wait_for_match(lambda t, o: t == etype and (obj is None or o == obj), timeout)

    def wait_for_match(self, cond: Callable[[str, Any], bool],
                       timeout: float) -> tuple[str, Any] | None:
        """The first event (type, object) cond accepts, the others consumed; None after
        timeout."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ev = self.next(left)
            if ev is None:
                return None
            if cond(*ev):
                return ev
        return None

    def expect(self, etype: str, obj: Any = None, timeout: float = 60) -> tuple[str, Any]:
        ev = self.wait_for(etype, obj, timeout)
        if ev is None:
            name = getattr(getattr(obj, "metadata", None), "name", None)
            raise AssertionError(f"timed out waiting for expected watch notification: "
                                 f"{etype} {name or ''}".rstrip())
        return ev

    def expect_none(self, etype: str, obj: Any = None, timeout: float = 10) -> None:
        ev = self.wait_for(etype, obj, timeout)
        if ev is not None:
            raise AssertionError(f"unexpected watch notification observed: {ev[0]} "
                                 f"{ev[1].metadata.name} rv={ev[1].metadata.resource_version}")

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            try:
                self.resp.shutdown()
            except Exception:
                pass
            self.resp.release_conn()


def until(api: client.ApiClient, list_fn: Callable[..., Any], model: str, rv: str,
          cond: Callable[[str, Any], bool], timeout: float, what: str, *args: Any,
          **kw: Any) -> Any:
    """upstream's watchtools.Until: watch from rv until cond(type, obj) holds; the object
    that satisfied it is returned. A watch the server closes is reopened at the last
    resourceVersion seen, as a retry watcher would."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        w = Watch(api, list_fn, model, *args, resource_version=rv, **kw)
        try:
            while (left := deadline - time.monotonic()) > 0:
                try:
                    ev = w.next(left)
                except AssertionError:
                    break  # closed: reopen at rv
                if ev is None:
                    break
                if ev[0] == "ERROR":
                    raise AssertionError(f"watch error while waiting for {what}: {ev[1]}")
                rv = ev[1].metadata.resource_version
                if cond(*ev):
                    return ev[1]
        finally:
            w.stop()
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
