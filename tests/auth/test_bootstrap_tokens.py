"""Bootstrap-token authentication as upstream's authenticator decides it: the Secret's
type, secret, expiration, usage and extra groups; anything wrong is "not this
authenticator's token" (None), never an error naming what was wrong."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from starlette.requests import HTTPConnection

from kapi.auth.bootstraptoken import BootstrapTokens, generate, secret_for

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TOKEN = "abcdef.0123456789abcdef"


def authenticate(secret: dict[str, Any] | None, token: str = TOKEN) -> Any:
    async def lookup(resource: str, namespace: str, name: str) -> Any:
        assert (resource, namespace, name) == ("secrets", "kube-system", "bootstrap-token-abcdef")
        return secret
    request = HTTPConnection({"type": "http", "headers": [
        (b"authorization", f"Bearer {token}".encode())]})
    return asyncio.run(BootstrapTokens(lookup, lambda: NOW)(request))


def make(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"expiration": NOW + dt.timedelta(hours=1),
                            "usages": ("authentication", "signing"),
                            "groups": ("system:bootstrappers:kubeadm:default-node-token",)}
    return secret_for(TOKEN, **{**args, **kw})


def test_a_valid_token_is_its_bootstrap_user() -> None:
    user = authenticate(make())
    assert user.name == "system:bootstrap:abcdef"
    assert user.groups == ("system:bootstrappers",
                           "system:bootstrappers:kubeadm:default-node-token",
                           "system:authenticated")


def test_no_expiration_never_expires() -> None:
    assert authenticate(make(expiration=None)) is not None


@pytest.mark.parametrize("change", [
    lambda s: s["data"].update({"token-secret": "MDAwMDAwMDAwMDAwMDAwMA=="}),  # 0000...
    lambda s: s.update({"type": "Opaque"}),
    lambda s: s["metadata"].update({"deletionTimestamp": "2026-01-01T00:00:00Z"}),
    lambda s: s["data"].pop("usage-bootstrap-authentication"),
    lambda s: s["data"].update({"auth-extra-groups": "c3lzdGVtOm1hc3RlcnM="}),  # system:masters
    lambda s: s["data"].update({"expiration": "bm90LWEtdGltZQ=="}),  # not-a-time
])
def test_a_token_that_does_not_hold_is_nobody(change: Any) -> None:
    secret = make()
    change(secret)
    assert authenticate(secret) is None


def test_expired_missing_and_malformed_tokens_are_nobody() -> None:
    assert authenticate(make(expiration=NOW - dt.timedelta(seconds=1))) is None
    assert authenticate(None) is None
    assert authenticate(make(), token="abcdef.0123456789ABCDEF") is None  # not [a-z0-9]


def test_generated_tokens_have_upstreams_form() -> None:
    token = generate()
    assert secret_for(token, expiration=None, usages=(), groups=())["metadata"]["name"] == \
        f"bootstrap-token-{token[:6]}"
    with pytest.raises(ValueError, match="unknown usage"):
        secret_for(TOKEN, expiration=None, usages=("everything",), groups=())
