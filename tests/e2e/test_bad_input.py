"""Bad input gets a clear 4xx Status and changes nothing; the server never answers 500
to a client's mistake."""

from __future__ import annotations

import httpx
import pytest


def _status(r, code: int, reason: str | None = None) -> dict:
    assert r.status_code == code, r.text
    body = r.json()
    assert body["kind"] == "Status" and body["status"] == "Failure" and body["code"] == code
    if reason:
        assert body["reason"] == reason
    assert body["message"]
    return body


def _revision(c) -> int:
    return int(c.get("/api/v1/namespaces").json()["metadata"]["resourceVersion"])


CM = "/api/v1/namespaces/{ns}/configmaps"


@pytest.mark.parametrize("body,ctype,code", [
    (b"{not json", "application/json", 400),
    (b"[1, 2, 3]", "application/json", 400),
    (b'"just a string"', "application/json", 400),
    (b"", "application/json", 400),
    (b"a: [unclosed", "application/yaml", 400),
    (b'{"metadata": "x"}', "application/json", 400),
    (b"{}", "text/plain", 415),
])
def test_malformed_bodies(server, ns, body, ctype, code):
    with server.client() as c:
        before = _revision(c)
        r = c.post(CM.format(ns=ns), content=body, headers={"content-type": ctype})
        _status(r, code)
        assert _revision(c) == before


def test_wrong_kind_for_path(server, ns):
    with server.client() as c:
        r = c.post(CM.format(ns=ns), json={"apiVersion": "v1", "kind": "Secret",
                                           "metadata": {"name": "x"}})
        body = _status(r, 400, "BadRequest")
        assert "Secret" in body["message"] and "ConfigMap" in body["message"]
        r = c.post(CM.format(ns=ns), json={"apiVersion": "apps/v1", "kind": "ConfigMap",
                                           "metadata": {"name": "x"}})
        _status(r, 400, "BadRequest")
        assert c.get(CM.format(ns=ns) + "/x").status_code == 404


def test_name_mismatch_and_namespace_mismatch(server, ns):
    with server.client() as c:
        c.post(CM.format(ns=ns), json={"metadata": {"name": "m"}, "data": {"a": "1"}})
        r = c.put(CM.format(ns=ns) + "/m", json={"apiVersion": "v1", "kind": "ConfigMap",
                                                 "metadata": {"name": "other"}})
        body = _status(r, 400, "BadRequest")
        assert "does not match the name on the URL" in body["message"]
        r = c.post(CM.format(ns=ns), json={"metadata": {"name": "y", "namespace": "elsewhere"}})
        assert "does not match the namespace" in _status(r, 400)["message"]
        assert c.get(CM.format(ns=ns) + "/m").json()["data"] == {"a": "1"}


def test_missing_and_invalid_names(server, ns):
    with server.client() as c:
        body = _status(c.post(CM.format(ns=ns), json={"metadata": {}}), 422, "Invalid")
        assert body["details"]["causes"][0]["field"] == "metadata.name"
        body = _status(c.post(CM.format(ns=ns), json={"metadata": {"name": "UPPER"}}), 422)
        assert "RFC 1123" in body["message"]
        body = _status(c.post("/api/v1/namespaces", json={"metadata": {"name": "a.b"}}), 422)
        assert "RFC 1123 label" in body["message"]


def test_cluster_scoped_under_namespace_is_not_found(server, ns):
    with server.client() as c:
        r = c.post(f"/api/v1/namespaces/{ns}/nodes", json={"metadata": {"name": "n1"}})
        _status(r, 404, "NotFound")
        # a namespace in the body of a cluster-scoped object is dropped, as upstream does
        r = c.post("/api/v1/nodes", json={"metadata": {"name": f"node-{ns}", "namespace": ns}})
        assert r.status_code == 201 and "namespace" not in r.json()["metadata"]
        c.delete(f"/api/v1/nodes/node-{ns}")


def test_huge_body_is_refused(server, ns):
    with server.client() as c:
        before = _revision(c)
        big = {"metadata": {"name": "big"}, "data": {"k": "x" * (4 * 1024 * 1024)}}
        try:
            _status(c.post(CM.format(ns=ns), json=big), 413)
        except (httpx.RemoteProtocolError, httpx.WriteError, httpx.ReadError):
            # over TLS the server's 413 and close can reach the client while it is still
            # sending, which then sees the connection go first: refused all the same
            pass
        assert _revision(c) == before
        assert c.get(CM.format(ns=ns) + "/big").status_code == 404


def test_unknown_resource_and_bad_params(server, ns):
    with server.client() as c:
        _status(c.get(f"/api/v1/namespaces/{ns}/widgets"), 404)
        _status(c.get("/apis/nope/v1/things"), 404)
        _status(c.get(CM.format(ns=ns), params={"limit": "lots"}), 400)
        _status(c.get(CM.format(ns=ns), params={"continue": "garbage!"}), 400)
        _status(c.post(CM.format(ns=ns), params={"dryRun": "Some"},  # upstream: Invalid
                       json={"metadata": {"name": "q"}}), 422)
        _status(c.post(CM.format(ns=ns), params={"fieldValidation": "Loose"},
                       json={"metadata": {"name": "q"}}), 400)
        _status(c.patch(CM.format(ns=ns) + "/none", content=b"{}",
                        headers={"content-type": "application/merge-patch+json"}), 404)
        _status(c.patch(CM.format(ns=ns) + "/none", content=b"{}",
                        headers={"content-type": "text/plain"}), 415)


def test_bad_patches_change_nothing(server, ns):
    with server.client() as c:
        obj = c.post(CM.format(ns=ns), json={"metadata": {"name": "bp"}, "data": {"a": "1"}}).json()
        url = CM.format(ns=ns) + "/bp"
        for body, ctype in ((b'{"op": "add"}', "application/json-patch+json"),
                            (b'[{"op": "remove", "path": "/data/zzz"}]', "application/json-patch+json"),
                            (b"[1]", "application/merge-patch+json"),
                            (b'{"metadata": {"name": "renamed"}}', "application/merge-patch+json"),
                            (b"{nope", "application/strategic-merge-patch+json")):
            r = c.patch(url, content=body, headers={"content-type": ctype})
            assert 400 <= r.status_code < 500, (body, r.text)
            assert r.json()["kind"] == "Status"
        after = c.get(url).json()
        assert after["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
