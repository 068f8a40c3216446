"""The URL written into the kubeconfig for each kind of --host."""

from __future__ import annotations

import pytest

from kapi.config import Config


@pytest.mark.parametrize("host,url", [
    ("127.0.0.1", "https://127.0.0.1:7443"),
    ("0.0.0.0", "https://127.0.0.1:7443"),  # a wildcard bind is reached on loopback
    ("::", "https://[::1]:7443"),
    ("::1", "https://[::1]:7443"),
    ("fd00::5", "https://[fd00::5]:7443"),
    ("192.0.2.7", "https://192.0.2.7:7443"),
])
def test_server_url(host: str, url: str) -> None:
    assert Config(host=host, port=7443).server_url == url
    plain = Config(host=host, port=7443, insecure_http=True).server_url
    assert plain == url.replace("https://", "http://")
