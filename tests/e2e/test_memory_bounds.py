"""Memory limits as a client meets them: a watch from a revision that fell out of the
watch cache's byte-bounded window gets 410 Expired (and a fresh watch works), and the
limits are printed by `kapi up --help` and `kapi apiserver --help`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, Server, start_server, stop_server


@pytest.mark.parametrize("command", ["up", "apiserver"])
def test_help_prints_the_watch_cache_limits(command: str) -> None:
    out = subprocess.run([sys.executable, "-m", "kapi.cli", command, "--help"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    assert "--watch-cache-events N" in out and "(default: 100000)" in out
    assert "--watch-cache-bytes SIZE" in out and "(default: 256Mi)" in out


def test_a_watch_older_than_the_byte_window_is_410_expired(tmp_path: Path) -> None:
    s = start_server(tmp_path, extra=("--watch-cache-bytes", "1Mi"))
    try:
        with s.client() as c:
            base = "/api/v1/namespaces/default/configmaps"
            revs = []
            for i in range(12):  # 12 x 200 KiB: the first events leave a 1 MiB window
                r = c.post(base, json={"metadata": {"name": f"big{i}"},
                                       "data": {"x": "y" * 100 * 1024}})
                assert r.status_code == 201, r.text
                revs.append(r.json()["metadata"]["resourceVersion"])
            r = c.get(base, params={"watch": "true", "resourceVersion": revs[0]})
            assert r.status_code == 410, r.text[:300]
            assert r.json()["reason"] == "Expired"
            assert r.json()["message"].startswith(f"too old resource version: {revs[0]} (")
            with c.stream("GET", base, params={"watch": "true", "resourceVersion": revs[-2],
                                               "timeoutSeconds": "1"}) as w:
                assert w.status_code == 200
                first = next(w.iter_lines())
            assert '"big11"' in first
    finally:
        stop_server(s.proc)


def test_a_large_list_is_the_same_document_when_streamed(server: Server, ns: str) -> None:
    """Past 500 items a list is written in pieces; clients read the same list."""
    with server.client() as c:
        for i in range(520):
            r = c.post(f"/api/v1/namespaces/{ns}/configmaps",
                       json={"metadata": {"name": f"cm{i:03d}", "labels": {"i": str(i)}},
                             "data": {"k": "v" * 100}})
            assert r.status_code == 201, r.text
        r = c.get(f"/api/v1/namespaces/{ns}/configmaps")
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        listed = r.json()
        assert listed["kind"] == "ConfigMapList" and listed["metadata"]["resourceVersion"]
        assert [o["metadata"]["name"] for o in listed["items"]] == [f"cm{i:03d}" for i in range(520)]
        assert all(o["data"] == {"k": "v" * 100} for o in listed["items"])
        small = c.get(f"/api/v1/namespaces/{ns}/configmaps", params={"limit": "3"}).json()
        assert small["items"] == listed["items"][:3]
