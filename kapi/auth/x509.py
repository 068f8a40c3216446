"""Client-certificate authentication and the paths anonymous callers may reach.

The TLS layer (kapi/serving.py) asks every client for a certificate and verifies any it
gets against the cluster CA (`--client-ca-file`) during the handshake; a connection whose
certificate does not verify never reaches the application. What a verified certificate
says is recorded once per connection in a `PeerTable`, keyed by the connection's two
addresses (the ASGI scope's `client` and `server`), because Hypercorn hands the
application no TLS details. `x509_authenticator` reads it: CN is the user's name, each O
a group, and `system:authenticated` is added, as upstream's x509 authenticator does.

Over TLS, a request with no credential is `system:anonymous` only on ANONYMOUS_PATHS,
the paths upstream's default roles let anyone read (`system:public-info-viewer`:
/healthz, /livez, /readyz, /version); elsewhere it is 401. Extend that one list for
more (e.g. the service-account issuer's discovery documents).

Never imports the handlers or storage; never parses certificates per request.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from starlette.requests import HTTPConnection

from kapi.auth import ANONYMOUS, User

Address = Any  # the scope's (host, port) tuple, or None on a Unix socket
Subject = tuple[str, tuple[str, ...]]  # (CN, Os) of a verified client certificate

# upstream's system:public-info-viewer ClusterRole, bound to system:unauthenticated
# (system:discovery, for /api and /apis, is bound to system:authenticated only)
ANONYMOUS_PATHS: frozenset[str] = frozenset({"/healthz", "/livez", "/readyz", "/version",
                                             "/version/",
                                             # kubeadm's discovery document for joining
                                             # nodes (kapi/registry/clusterinfo.py)
                                             "/api/v1/namespaces/kube-public/configmaps/"
                                             "cluster-info"})


class PeerTable:
    """Verified client certificates of the open TLS connections, by (client, server)."""

    def __init__(self) -> None:
        self._subjects: dict[tuple[Address, Address], Subject] = {}

    def opened(self, client: Address, server: Address, peer_cert: dict[str, Any] | None) -> None:
        subject = subject_of(peer_cert) if peer_cert else None
        if subject is not None:
            self._subjects[(client, server)] = subject

    def closed(self, client: Address, server: Address) -> None:
        self._subjects.pop((client, server), None)

    def get(self, client: Address, server: Address) -> Subject | None:
        return self._subjects.get((client, server))

    def __len__(self) -> int:
        return len(self._subjects)


def subject_of(peer_cert: dict[str, Any]) -> Subject | None:
    """(CN, Os) from `ssl.SSLSocket.getpeercert()`'s dict (each RDN a tuple of pairs);
    None without a CN (upstream refuses a certificate without a user name)."""
    cn, orgs = "", []
    for rdn in peer_cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                orgs.append(value)
    return (cn, tuple(orgs)) if cn else None


def x509_authenticator(peers: PeerTable) -> Callable[[HTTPConnection], Any]:
    """The Authenticator of verified client certificates."""
    cache: dict[Subject, User] = {}

    async def authenticate(request: HTTPConnection) -> User | None:
        scope = request.scope
        subject = peers.get(_address(scope.get("client")), _address(scope.get("server")))
        if subject is None:
            return None
        user = cache.get(subject)
        if user is None:
            name, groups = subject
            user = cache[subject] = User(name, (*groups, "system:authenticated"))
        return user

    return authenticate


def _address(addr: Any) -> Address:
    return tuple(addr) if isinstance(addr, list) else addr


def anonymous_on(paths: Iterable[str] = ANONYMOUS_PATHS) -> Callable[[HTTPConnection], User | None]:
    """The `anonymous` step of kapi.auth.union: system:anonymous on these paths, else
    None (401)."""
    allowed = frozenset(paths)

    def anonymous(request: HTTPConnection) -> User | None:
        return ANONYMOUS if request.scope["path"] in allowed else None

    return anonymous
