"""The HTTP server settings kapi is served with (Hypercorn), in one function.

kapi/cli.py serves the API server with this configuration, and bench/floor.py serves its
trivial endpoint with the same one, so the benchmark's floor differs from kapi only by
kapi. It owns settings only: it never starts a server or touches the app.
"""

from __future__ import annotations

from hypercorn.config import Config as HypercornConfig


def hypercorn_config(host: str, port: int) -> HypercornConfig:
    hc = HypercornConfig()
    hc.bind = [f"{host}:{port}"]
    hc.accesslog = None
    hc.errorlog = "-"
    hc.loglevel = "WARNING"
    hc.keep_alive_timeout = 90
    hc.keep_alive_max_requests = 1_000_000  # clients keep their connections (as Go's server)
    hc.graceful_timeout = 2
    return hc
