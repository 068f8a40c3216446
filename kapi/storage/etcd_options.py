"""Where etcd is and how to reach it: the --etcd-* flags as one value.

Kept apart from etcd.py so that naming the backend does not import gRPC (about 0.1 s at
every start of a server that uses SQLite). Must never open a connection.
"""

from __future__ import annotations

from dataclasses import dataclass

ROOT = "/registry"  # where every kapi key starts (upstream's default --etcd-prefix)


@dataclass(frozen=True)
class EtcdOptions:
    """Where etcd is and how to reach it (the --etcd-* flags)."""

    servers: tuple[str, ...] = ("http://127.0.0.1:2379",)
    prefix: str = ROOT
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None

    def endpoints(self) -> list[str]:
        out = []
        for url in self.servers:
            scheme, sep, rest = url.partition("://")
            if not sep or scheme not in ("http", "https") or not rest.strip("/"):
                raise ValueError(f"etcd server {url!r} is not an http(s)://HOST:PORT URL")
            out.append(rest.strip("/"))
        return out
