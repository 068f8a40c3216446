"""A deliberately broken API server for the conformance harness's own tests: an HTTP
proxy on loopback in front of a real kapi that drops every Nth event of every watch
stream (everything else passes through). A harness whose watch ports cannot see this
is not checking what upstream checks."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def make_handler(upstream: Any, drop_every: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # bodies end at close: streams need no re-chunking

        def log_message(self, *args: Any) -> None:
            pass

        def _forward(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            is_watch = "watch=true" in self.path or "watch=1" in self.path
            with upstream.client(timeout=None) as c:  # tests.conftest.Server, as the admin
                with c.stream(self.command, self.path, headers=headers, content=body) as r:
                    self.send_response(r.status_code)
                    for k, v in r.headers.items():
                        if k.lower() not in HOP and k.lower() != "content-encoding":
                            self.send_header(k, v)
                    self.end_headers()
                    if is_watch:
                        self._relay_watch(r)
                    else:
                        self.wfile.write(r.read())

        def _relay_watch(self, r: httpx.Response) -> None:
            for i, line in enumerate(r.iter_lines(), 1):
                if i % drop_every == 0:
                    continue  # the deliberate bug: this event never reaches the client
                self.wfile.write(line.encode() + b"\n")
                self.wfile.flush()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    return Handler


class BrokenProxy:
    def __init__(self, upstream: Any, drop_every: int = 5) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(upstream, drop_every))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> BrokenProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
