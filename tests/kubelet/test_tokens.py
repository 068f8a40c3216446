"""The kubelet's projected service-account tokens (runtime/kubelet/tokens.py): one
TokenRequest per projection, bound to the pod, kept until 80% of its life has passed (or
24 h), then asked for again; the volume's token file holds it. A fake API answers as
kapi's TokenRequest does; the wall clock is injected."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from runtime.kubelet.envsources import Sources
from runtime.kubelet.tokens import TokenManager, projection_key
from runtime.kubelet.volumes import payload

Obj = dict[str, Any]
VOLUME = {"name": "kube-api-access-abcde", "projected": {"defaultMode": 420, "sources": [
    {"serviceAccountToken": {"expirationSeconds": 3600, "path": "token"}},
    {"serviceAccountToken": {"audience": "vault", "expirationSeconds": 600, "path": "vault"}},
    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
        "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}
POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
       "spec": {"serviceAccountName": "robot", "volumes": [VOLUME]}}


class FakeAPI:
    def __init__(self, wall: list[float]) -> None:
        self.wall, self.asked = wall, []  # type: list[float], list[tuple[str, Obj]]

    async def request(self, method: str, path: str, *, body: Obj) -> Obj:
        self.asked.append((path, body))
        seconds = body["spec"]["expirationSeconds"]
        expires = dt.datetime.fromtimestamp(self.wall[0] + seconds, dt.UTC)
        return {"spec": body["spec"], "status": {
            "token": f"t{len(self.asked)}",
            "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}}


def test_tokens_are_requested_bound_and_refreshed_past_80_percent() -> None:
    wall = [1_000_000.0]
    api = FakeAPI(wall)
    tokens = TokenManager(api, wall=lambda: wall[0], rand=lambda: 0.5)  # type: ignore[arg-type]
    got, refresh = asyncio.run(tokens.tokens_for(POD))
    assert [p for p, _ in api.asked] == ["/api/v1/namespaces/ns/serviceaccounts/robot/token"] * 2
    assert api.asked[0][1]["spec"] == {"audiences": [], "expirationSeconds": 3600,
                                       "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                                          "name": "p", "uid": "u1"}}
    assert api.asked[1][1]["spec"]["audiences"] == ["vault"]
    assert got == {"|3600": "t1", "vault|600": "t2"}
    assert refresh == wall[0] + 600 * 0.8 - 5  # the sooner one, less its jitter (0.5 * 10 s)
    wall[0] = refresh - 1  # before then: nothing asked
    assert asyncio.run(tokens.tokens_for(POD))[0] == got and len(api.asked) == 2
    wall[0] = refresh  # at the wake-up it asked for: only the short one is asked again
    again, _ = asyncio.run(tokens.tokens_for(POD))
    assert again == {"|3600": "t1", "vault|600": "t3"}
    tokens.forget("u1")
    assert asyncio.run(tokens.tokens_for(POD))[0] == {"|3600": "t4", "vault|600": "t5"}


def test_the_token_file_is_written_with_the_volume() -> None:
    keys = [projection_key(s["serviceAccountToken"]) for s in VOLUME["projected"]["sources"][:2]]
    files = payload(POD, VOLUME, Sources(tokens=dict(zip(keys, ["aaa", "bbb"], strict=True))))
    assert files == {"token": (b"aaa", 420), "vault": (b"bbb", 420), "namespace": (b"ns", 420)}
