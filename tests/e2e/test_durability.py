"""Durability through the real HTTP stack: restarts keep objects and resourceVersions,
a watch resumed after a restart loses nothing, and `kill -9` in the middle of a burst
of writes loses no write that was acknowledged with a 2xx."""

from __future__ import annotations

import concurrent.futures
import signal
import threading
import time

import httpx
import orjson

from tests.conftest import start_server, stop_server


def _cm(name: str, value: str = "v") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": {"k": value}}


def test_restart_keeps_objects_revisions_and_watch_history(tmp_path):
    s = start_server(tmp_path / "data")
    try:
        with s.client() as c:
            created = [c.post("/api/v1/namespaces/default/configmaps", json=_cm(f"r{i}")).json()
                       for i in range(5)]
            mark = created[1]["metadata"]["resourceVersion"]
    finally:
        assert stop_server(s.proc) == 0  # SIGTERM stops it cleanly
    s = start_server(tmp_path / "data", port=s.port)
    try:
        with s.client() as c:
            for obj in created:
                got = c.get(f"/api/v1/namespaces/default/configmaps/{obj['metadata']['name']}").json()
                assert got["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
                assert got["metadata"]["uid"] == obj["metadata"]["uid"]
            new = c.post("/api/v1/namespaces/default/configmaps", json=_cm("after")).json()
            assert int(new["metadata"]["resourceVersion"]) > int(created[-1]["metadata"]["resourceVersion"])
            # resume a watch from before the restart: everything after `mark`, in order
            names = []
            with c.stream("GET", "/api/v1/namespaces/default/configmaps",
                          params={"watch": "true", "resourceVersion": mark,
                                  "timeoutSeconds": "5"}) as r:
                assert r.status_code == 200
                for line in r.iter_lines():
                    ev = orjson.loads(line)
                    names.append((ev["type"], ev["object"]["metadata"]["name"]))
                    if len(names) == 4:
                        break
            assert names == [("ADDED", "r2"), ("ADDED", "r3"), ("ADDED", "r4"), ("ADDED", "after")]
    finally:
        stop_server(s.proc)


def test_kill_9_loses_no_acknowledged_write(tmp_path):
    s = start_server(tmp_path / "data")
    acked: dict[str, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w: int) -> None:
        with s.client(timeout=5) as c:
            for i in range(2000):  # bounded in count ...
                if stop.is_set():
                    return
                name = f"w{w}-{i}"
                try:
                    r = c.post("/api/v1/namespaces/default/configmaps", json=_cm(name, str(i)))
                except httpx.HTTPError:
                    return
                if 200 <= r.status_code < 300:
                    with lock:
                        acked[name] = r.json()["metadata"]["resourceVersion"]

    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(writer, w) for w in range(4)]
            deadline = time.monotonic() + 20  # ... and in time
            while len(acked) < 300 and time.monotonic() < deadline:
                time.sleep(0.02)
            s.proc.send_signal(signal.SIGKILL)
            s.proc.wait(timeout=10)
            stop.set()
            for f in futures:
                f.result(timeout=30)
    finally:
        stop_server(s.proc)
    assert len(acked) >= 300
    s = start_server(tmp_path / "data", port=s.port)
    try:
        with s.client() as c:
            items = c.get("/api/v1/namespaces/default/configmaps").json()["items"]
            stored = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in items}
        lost = {n for n in acked if n not in stored}
        assert not lost, f"{len(lost)} acknowledged writes lost"
        assert all(stored[n] == rv for n, rv in acked.items())
    finally:
        stop_server(s.proc)
