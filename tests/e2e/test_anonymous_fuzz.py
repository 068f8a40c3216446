"""No credentials over TLS, fuzzed over everything the server serves: every operation of
its /openapi/v2 (schemathesis, bench/fuzz.py) and every discovery, OpenAPI, health and
issuer path with every method earns 401 Unauthorized and nothing else (never data, never
a 5xx), except the public paths upstream's system:public-info-viewer role opens to
system:unauthenticated (GET of /healthz, /livez, /readyz, /version): those answer, and
other methods there are 403 (the caller is system:anonymous, whom RBAC refuses; HEAD
too, whose verb is `head`, as upstream's).

Upstream with anonymous authentication left on answers 403 rather than 401 for the
other paths (the anonymous user reaches RBAC, and system:discovery is bound to
system:authenticated only); kapi answers as upstream's anonymous authenticator does when
restricted to those paths (AuthenticationConfiguration `anonymous.conditions`): 401.
Either way no anonymous caller reads discovery, the issuer documents or any object."""

from __future__ import annotations

import json
from typing import Iterator

import httpx
import pytest

from bench.fuzz import fuzz
from tests.conftest import Server, start_server, stop_server

PUBLIC = ("/healthz", "/livez", "/readyz", "/version")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


@pytest.fixture(scope="module")
def anon_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("anonymous"))
    yield s
    stop_server(s.proc)


def refusal(method: str, path: str, r: httpx.Response) -> str | None:
    """What is wrong with the answer to a request without credentials, or None."""
    public = path.split("?")[0] in (*PUBLIC, "/version/")
    if public and method.upper() == "GET":
        return None if r.status_code == 200 else f"{r.status_code} on a public path"
    want = 403 if public else 401
    if r.status_code != want:
        return f"{r.status_code}, not {want}"
    if method.upper() == "HEAD":
        return None
    try:
        body = r.json()
    except ValueError:
        return f"not a Status: {r.text[:200]!r}"
    if want == 401 and body != UNAUTHORIZED:
        return f"more than Unauthorized: {json.dumps(body)[:300]}"
    if want == 403 and (body.get("kind"), body.get("reason")) != ("Status", "Forbidden"):
        return f"not a Forbidden Status: {json.dumps(body)[:300]}"
    return None


def served_paths(s: Server) -> list[str]:
    """Every path discovery and OpenAPI name (as the admin reads them), and the other
    non-resource paths kapi serves."""
    paths = {"/", "/api", "/api/v1", "/apis", "/openapi/v2", "/openapi/v3", "/metrics",
             "/.well-known/openid-configuration", "/openid/v1/jwks", "/healthz/ping",
             "/livez/ping", "/readyz/ping", "/healthz/etcd", "/version/", "/logs",
             "/no-such-path", *PUBLIC}
    with s.client() as c:
        for group in c.get("/apis").json()["groups"]:
            paths.add(f"/apis/{group['name']}")
            paths |= {f"/apis/{v['groupVersion']}" for v in group["versions"]}
        paths |= {"/" + p.lstrip("/") for p in c.get("/openapi/v3").json()["paths"]}
        for p in c.get("/openapi/v2").json()["paths"]:
            paths.add(p.replace("{namespace}", "default").replace("{name}", "x")
                      .replace("{path}", "x"))
    return sorted(paths)


def test_every_path_and_method_without_credentials(anon_server: Server) -> None:
    paths = served_paths(anon_server)
    assert len(paths) > 300
    found = []
    with anon_server.client(cert=False, timeout=10) as c:
        for path in paths:
            for method in METHODS:
                r = c.request(method, path, content=b"{}",
                              headers={"Content-Type": "application/json"})
                wrong = refusal(method, path, r)
                if wrong:
                    found.append(f"{method} {path}: {wrong}")
    assert not found, "\n".join(found[:40])
    with anon_server.client() as c:  # and nothing was made
        assert c.get("/api/v1/namespaces/x").status_code == 404


def test_fuzzed_operations_without_credentials(anon_server: Server) -> None:
    """schemathesis' generated requests (paths, queries, bodies) for every operation,
    two each, with the CA but no client certificate or token: all 401."""
    with anon_server.client() as c:
        doc = c.get("/openapi/v2").json()
    report = fuzz(anon_server.url, examples=2, seconds=300, verify=anon_server.ssl_context(
        cert=False), slow=10.0, expect=refusal, openapi=doc)
    print(f"anonymous fuzz: {report.operations} operations, {report.requests} requests in "
          f"{report.seconds:.1f} s")
    assert report.total > 300 and report.operations == report.total
    assert report.requests >= report.total
    assert not report.findings, "\n".join(report.findings[:40])
    assert "Traceback" not in anon_server.log.read_text()
