"""Watch and list semantics over raw HTTP: bookmarks, sendInitialEvents, selectors that
objects move in and out of, 410 Gone after compaction, and expired continue tokens."""

from __future__ import annotations

import threading
import time

import httpx
import orjson

from tests.conftest import start_server, stop_server

CM = "/api/v1/namespaces/{ns}/configmaps"


def _events(c: httpx.Client, url: str, params: dict, count: int, timeout: float = 10) -> list[dict]:
    out: list[dict] = []
    params = dict(params, watch="true", timeoutSeconds=str(int(timeout)))
    with c.stream("GET", url, params=params) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if line:
                out.append(orjson.loads(line))
            if len(out) >= count:
                break
    return out


def test_send_initial_events_then_bookmark(server, ns):
    with server.client() as c:
        for i in range(3):
            c.post(CM.format(ns=ns), json={"metadata": {"name": f"i{i}"}})
        evs = _events(c, CM.format(ns=ns), {"sendInitialEvents": "true",
                                             "resourceVersionMatch": "NotOlderThan",
                                             "resourceVersion": "", "allowWatchBookmarks": "true"}, 4)
        assert [e["type"] for e in evs] == ["ADDED", "ADDED", "ADDED", "BOOKMARK"]
        bm = evs[3]["object"]
        assert bm["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        assert int(bm["metadata"]["resourceVersion"]) >= max(
            int(e["object"]["metadata"]["resourceVersion"]) for e in evs[:3])


def test_quiet_watch_gets_progress_bookmarks(server, ns):
    with server.client() as c:
        rv = c.get(CM.format(ns=ns)).json()["metadata"]["resourceVersion"]
        # writes elsewhere move the cluster revision; a bookmark tells this watcher so
        def elsewhere() -> None:
            with server.client() as c2:
                c2.post("/api/v1/namespaces/default/configmaps",
                        json={"metadata": {"generateName": "bm-"}})
        threading.Timer(0.5, elsewhere).start()
        evs = _events(c, CM.format(ns=ns), {"resourceVersion": rv, "allowWatchBookmarks": "true"},
                      1, timeout=15)
        assert evs[0]["type"] == "BOOKMARK"
        assert int(evs[0]["object"]["metadata"]["resourceVersion"]) > int(rv)
        assert evs[0]["object"]["kind"] == "ConfigMap"


def test_selector_watch_sees_objects_enter_and_leave(server, ns):
    with server.client() as c:
        c.post(CM.format(ns=ns), json={"metadata": {"name": "mv", "labels": {"a": "no"}}})
        rv = c.get(CM.format(ns=ns)).json()["metadata"]["resourceVersion"]

        def flip() -> None:
            with server.client() as c2:
                url = CM.format(ns=ns) + "/mv"
                hdr = {"content-type": "application/merge-patch+json"}
                c2.patch(url, content=b'{"metadata":{"labels":{"a":"yes"}}}', headers=hdr)
                c2.patch(url, content=b'{"data":{"x":"1"}}', headers=hdr)
                c2.patch(url, content=b'{"metadata":{"labels":{"a":"no"}}}', headers=hdr)
        threading.Timer(0.3, flip).start()
        evs = _events(c, CM.format(ns=ns), {"resourceVersion": rv, "labelSelector": "a=yes"}, 3)
        assert [e["type"] for e in evs] == ["ADDED", "MODIFIED", "DELETED"]


def test_watch_single_object_by_name(server, ns):
    with server.client() as c:
        c.post(CM.format(ns=ns), json={"metadata": {"name": "one"}})
        c.post(CM.format(ns=ns), json={"metadata": {"name": "two"}})
        evs = _events(c, CM.format(ns=ns), {"fieldSelector": "metadata.name=two"}, 1)
        assert evs[0]["object"]["metadata"]["name"] == "two"
        # the named form: the user's field selector is kept when it names the same object
        named = f"/api/v1/watch/namespaces/{ns}/configmaps/two"
        evs = _events(c, named, {"fieldSelector": f"metadata.name=two,metadata.namespace={ns}"}, 1)
        assert [e["object"]["metadata"]["name"] for e in evs] == ["two"]
        r = c.get(named, params={"fieldSelector": "metadata.namespace=nowhere"})
        assert r.status_code == 400, r.text  # upstream: it must name the object
        assert r.json()["message"] == "fieldSelector metadata.name doesn't match requested name"
        r = c.get(CM.format(ns=ns) + "/two", params={"watch": "1",
                                                     "fieldSelector": "metadata.name=one"})
        assert (r.status_code, r.json()["reason"]) == (400, "BadRequest")


def test_compaction_expires_old_watches_and_continue_tokens(tmp_path):
    s = start_server(tmp_path / "d", extra=("--compact-interval", "0.2", "--compact-keep", "5",
                                            "--compact-keep-seconds", "0",
                                            "--watch-cache-capacity", "100"))
    try:
        with s.client() as c:
            first = c.post(CM.format(ns="default"), json={"metadata": {"name": "c0"}}).json()
            for i in range(1, 30):
                c.post(CM.format(ns="default"), json={"metadata": {"name": f"c{i}"}})
            page = c.get(CM.format(ns="default"), params={"limit": "5"}).json()
            token = page["metadata"]["continue"]
            for i in range(200):  # push the cache window past the first revisions
                c.put(CM.format(ns="default") + "/c1",
                      json={"metadata": {"name": "c1"}, "data": {"n": str(i)}})
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                r = c.get(CM.format(ns="default"), params={
                    "watch": "true", "resourceVersion": first["metadata"]["resourceVersion"]})
                if r.status_code == 410:
                    break
                time.sleep(0.2)
            assert r.status_code == 410, r.text
            assert r.json()["reason"] == "Expired" and "too old resource version" in r.json()["message"]
            r = c.get(CM.format(ns="default"), params={"limit": "5", "continue": token})
            assert r.status_code == 410 and r.json()["reason"] == "Expired"
    finally:
        stop_server(s.proc)
