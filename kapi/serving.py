"""The HTTP server settings kapi is served with (Hypercorn), in one place.

kapi/cli.py serves the API server with this configuration, and bench/floor.py serves its
trivial endpoint with the same one, so the benchmark's floor differs from kapi only by
kapi. With `TLSFiles`, the server speaks TLS (ALPN h2 and http/1.1), asks every client
for a certificate and verifies any it gets against the client CA; `track_peers` then
records each connection's verified subject for kapi/auth/x509.py, since Hypercorn puts
no TLS details in the ASGI scope.

It owns settings and that one per-connection record; it never touches the app.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypercorn.asyncio.run as hypercorn_run
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.config import Config as HypercornConfig
from hypercorn.utils import parse_socket_addr

from kapi.auth.pki import ClusterPKI, serving_names
from kapi.auth.x509 import PeerTable
from kapi.config import Config


@dataclass(frozen=True)
class TLSFiles:
    """upstream's --tls-cert-file, --tls-private-key-file and --client-ca-file."""

    cert: Path
    key: Path
    client_ca: Path | None


def hypercorn_config(host: str, port: int, tls: TLSFiles | None = None,
                     peers: PeerTable | None = None) -> HypercornConfig:
    hc = HypercornConfig()
    hc.bind = [f"{host}:{port}"]
    hc.accesslog = None
    hc.errorlog = "-"
    hc.loglevel = "WARNING"
    hc.keep_alive_timeout = 90
    hc.keep_alive_max_requests = 1_000_000  # clients keep their connections (as Go's server)
    hc.graceful_timeout = 2
    if tls is not None:
        hc.certfile, hc.keyfile = str(tls.cert), str(tls.key)
        hc.alpn_protocols = ["h2", "http/1.1"]
        # a handshake nobody finishes (a peer gone mid-way) holds the server's shutdown
        # until it times out: Hypercorn's 60 s default would outlast a graceful stop
        hc.ssl_handshake_timeout = 10
        if tls.client_ca is not None:
            # asked for, not required: a token or an anonymous health check has none.
            # Verified in the handshake, though: Python's ssl has no verify callback (Go's
            # RequestClientCert, upstream's choice, lets any certificate through and the
            # authenticator answers 401), so another CA's certificate ends the connection
            # instead. The alternatives cost more than that difference: CERT_NONE never
            # asks for a certificate at all, and TLS outside the ssl module (pyOpenSSL)
            # would replace Hypercorn's whole transport.
            hc.ca_certs, hc.verify_mode = str(tls.client_ca), ssl.CERT_OPTIONAL
        if peers is not None:
            track_peers()
            hc.peer_table = peers  # type: ignore[attr-defined]  # read per connection
    return hc


class _PeerTrackingServer(TCPServer):
    """Hypercorn's connection, recording the verified client certificate's subject in
    the config's PeerTable for as long as the connection is open.

    A TLS peer that vanishes without closing its session makes the connection's close
    wait for the TLS shutdown and end in TimeoutError (or an SSLError), which Hypercorn
    lets escape to the event loop as a traceback: it is the peer's going, nothing to
    report."""

    async def run(self) -> None:
        peers: PeerTable | None = getattr(self.config, "peer_table", None)
        ssl_object = self.writer.get_extra_info("ssl_object")
        if peers is None or ssl_object is None:
            await super().run()
            return
        client, server = self._addresses()
        try:
            peers.opened(client, server, ssl_object.getpeercert())
            await super().run()
        except (TimeoutError, ssl.SSLError, ConnectionError, ValueError):
            pass  # the peer went (ValueError: getpeercert on a connection already closed)
        finally:
            peers.closed(client, server)

    def _addresses(self) -> tuple[Any, Any]:
        sock = self.writer.get_extra_info("socket")
        try:
            return (parse_socket_addr(sock.family, sock.getpeername()),
                    parse_socket_addr(sock.family, sock.getsockname()))
        except OSError:  # already gone: super().run() ends at once
            return None, None


def track_peers() -> None:
    """Make every Hypercorn connection of this process record its peer's verified
    certificate when its config has a peer table. Idempotent."""
    hypercorn_run.TCPServer = _PeerTrackingServer  # type: ignore[misc]


def tls_files(config: Config) -> TLSFiles:
    """The serving certificate and client CA: the flags' files, else the data dir's own
    (made on first start, kapi/auth/pki.py)."""
    pki = ClusterPKI(config.pki_dir)
    if config.tls_cert_file and config.tls_private_key_file:
        cert, key = config.tls_cert_file, config.tls_private_key_file
    else:
        pair = pki.serving(serving_names(config.host, config.service_cidr))
        cert, key = pair.cert, pair.key
    return TLSFiles(cert, key, config.client_ca_file or pki.ensure_ca().cert)
