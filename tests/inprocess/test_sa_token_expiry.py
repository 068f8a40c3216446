"""Service-account token time, with the API server's clock injected (no waiting ten
minutes): a token authenticates until its expiry (plus upstream's minute of leeway) and
is refused after it, by a request (401) and by TokenReview (upstream's error); a token
from the future is refused too; the kubelet's 3607 s pod-bound tokens live a year with
`warnafter`; the signing key is made once, 0600, and kept across restarts."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import httpx
import pytest

from kapi.app import build_app
from kapi.config import Config
from kapi.storage import MemoryStorage

pytestmark = pytest.mark.anyio
Obj = dict[str, Any]
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Callable[..., httpx.AsyncClient], Clock]]:
    clock = Clock()
    app = build_app(Config(storage="memory", data_dir=tmp_path, insecure_http=True), storage=MemoryStorage(),
                    clock=clock)
    async with app.router.lifespan_context(app):
        def client(token: str | None = None) -> httpx.AsyncClient:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), headers=headers,
                                     base_url="http://kapi.test")
        yield client, clock


async def _token(c: httpx.AsyncClient, spec: Obj, sa: str = "robot") -> Obj:
    await c.post("/api/v1/namespaces/default/serviceaccounts",
                 json={"metadata": {"name": sa}})
    # RBAC: the account may do anything in its namespace (a second call is a 409, fine)
    await c.post("/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", json={
        "metadata": {"name": f"{sa}-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": "default"}]})
    r = await c.post(f"/api/v1/namespaces/default/serviceaccounts/{sa}/token",
                     json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                           "spec": spec})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _review(c: httpx.AsyncClient, token: str) -> Obj:
    r = await c.post("/apis/authentication.k8s.io/v1/tokenreviews",
                     json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                           "spec": {"token": token}})
    assert r.status_code == 201, r.text
    return r.json()["status"]  # type: ignore[no-any-return]


def _claims(token: str) -> Obj:
    import base64
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # type: ignore[no-any-return]


async def test_a_token_expires(served: Any) -> None:
    client, clock = served
    async with client() as admin:
        out = await _token(admin, {"expirationSeconds": 600})
        token = out["status"]["token"]
        assert out["status"]["expirationTimestamp"] == "2026-01-01T00:10:00Z"
        async with client(token) as robot:
            assert (await robot.get("/api/v1/namespaces/default/pods")).status_code == 200
            clock.now = START + dt.timedelta(seconds=600 + 59)  # within the leeway
            assert (await robot.get("/api/v1/namespaces/default/pods")).status_code == 200
            clock.now = START + dt.timedelta(seconds=600 + 61)
            r = await robot.get("/api/v1/namespaces/default/pods")
            assert r.status_code == 401 and r.json()["reason"] == "Unauthorized"
        st = await _review(admin, token)
        assert st == {"user": {}, "authenticated": False, "error":
                      "[invalid bearer token, service account token has expired]"}
        clock.now = START - dt.timedelta(minutes=5)  # a clock behind the issuer's
        st = await _review(admin, token)
        assert st["error"] == "[invalid bearer token, service account token is not valid yet]"


async def test_the_kubelets_pod_tokens_are_extended(served: Any) -> None:
    client, _ = served
    async with client() as admin:
        await admin.post("/api/v1/namespaces/default/serviceaccounts",
                         json={"metadata": {"name": "robot"}})
        r = await admin.post("/api/v1/namespaces/default/pods", json={
            "metadata": {"name": "p"}, "spec": {"serviceAccountName": "robot",
                                                "containers": [{"name": "c", "image": "x"}]}})
        assert r.status_code == 201, r.text
        uid = r.json()["metadata"]["uid"]
        ref = {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": uid}
        out = await _token(admin, {"expirationSeconds": 3607, "boundObjectRef": ref})
        c = _claims(out["status"]["token"])
        assert c["exp"] - c["iat"] == 365 * 24 * 3600
        assert c["kubernetes.io"]["warnafter"] - c["iat"] == 3607
        assert out["status"]["expirationTimestamp"] == "2026-01-01T01:00:07Z"
        stale = dict(ref, uid="0000")
        r = await admin.post("/api/v1/namespaces/default/serviceaccounts/robot/token",
                             json={"spec": {"boundObjectRef": stale}})
        assert r.status_code == 409 and "does not match the UID in record" in r.json()["message"]
        r = await admin.post("/api/v1/namespaces/default/serviceaccounts/robot/token",
                             json={"spec": {"boundObjectRef": {"kind": "ConfigMap",
                                                               "apiVersion": "v1", "name": "x"}}})
        assert r.status_code == 400
        assert r.json()["message"] == "cannot bind token to object of type /v1, Kind=ConfigMap"


async def test_the_signing_key_is_made_once(tmp_path: Path) -> None:
    kids = []
    for _ in range(2):
        app = build_app(Config(storage="memory", data_dir=tmp_path, insecure_http=True), storage=MemoryStorage())
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://kapi.test") as c:
                kids.append((await c.get("/openid/v1/jwks")).json()["keys"][0]["kid"])
    assert kids[0] == kids[1]
    assert stat.S_IMODE((tmp_path / "sa.key").stat().st_mode) == 0o600
