"""The API server's security steps, built from the config: authentication (the static
token file, impersonation), the authorizer chain (Node, RBAC, ...), RBAC's escalation
check on writes, and the access reviews.

The RBAC policy index and the node graph are fed from the watch cache, synchronously
with each event it applies (a watcher whose `offer` updates them), so a decision reads
memory only. This module only wires; the rules live in kapi.auth.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from starlette.requests import HTTPConnection

from kapi.auth import ADMIN, Authenticate, Authenticator, User, union
from kapi.auth.impersonation import impersonating
from kapi.auth.node import NodeAuthorizer, NodeGraph
from kapi.auth.rbac import bootstrap
from kapi.auth.rbac.authorizer import RBAC, Authorizer, Mode, always_allow, always_deny
from kapi.auth.rbac.escalation import EscalationCheck
from kapi.auth.rbac.index import RESOURCES, PolicyIndex
from kapi.auth.tokenfile import TokenFile
from kapi.config import Config
from kapi.endpoints.accessreview import AccessReviews
from kapi.meta.resources import Scheme
from kapi.storage.cacher import CacheEvent, WatchCache, Watcher
from kapi.storage.interface import Storage

RBAC_GROUP = "rbac.authorization.k8s.io"


class _Feed(Watcher):
    """A cache watcher that hands each event to `apply` as it is applied."""

    def __init__(self, prefix: str, apply: Callable[[bool, dict[str, Any]], None]) -> None:
        super().__init__(prefix, None)
        self.apply = apply

    def offer(self, ev: CacheEvent) -> None:
        if ev.key.startswith(self.prefix):
            self.apply(ev.type == "DELETE", ev.obj)


def _anonymous(request: HTTPConnection) -> User | None:
    """No credential at all: the admin (kapi serves plain HTTP on loopback until TLS
    lands); a credential nobody recognised: None, a 401."""
    return None if request.headers.get("authorization") else ADMIN


@dataclass
class Security:
    authenticate: Authenticate
    authorizer: Authorizer
    index: PolicyIndex
    graph: NodeGraph
    escalation: EscalationCheck
    reviews: AccessReviews

    def start(self, cache: WatchCache, scheme: Scheme) -> None:
        """Load the index from the cache and follow it (call once the cache started)."""
        feeds: list[tuple[str, Callable[[bool, dict[str, Any]], None]]] = []
        for resource in RESOURCES:
            r = scheme.get(RBAC_GROUP, "v1", resource)
            assert r is not None
            feeds.append((r.key_prefix, functools.partial(self.index.apply, resource)))
        pods = scheme.get("", "v1", "pods")
        assert pods is not None
        feeds.append((pods.key_prefix, self.graph.apply))
        for prefix, apply in feeds:
            for obj in cache.list(prefix, prefix):
                apply(False, obj)
            cache.watchers.add(_Feed(prefix, apply))

    async def reconcile(self, store: Any, scheme: Scheme) -> None:
        from kapi.registry.store import DeleteOptions

        await bootstrap.reconcile(store, scheme.get(RBAC_GROUP, "v1", "clusterroles"),
                                  scheme.get(RBAC_GROUP, "v1", "clusterrolebindings"),
                                  DeleteOptions())


def build(config: Config, cache: WatchCache, storage: Storage,
          authenticators: Sequence[Authenticator] = (),
          anonymous: Callable[[HTTPConnection], User | None] | None = None) -> Security:
    """`authenticators`: the server's own (client certificates, service-account tokens),
    after the token file; `anonymous`: what a request with no credential is (default:
    the admin, as on plain HTTP)."""
    index, graph = PolicyIndex(), NodeGraph()
    rbac = RBAC(index)
    table: dict[str, Mode] = {"RBAC": rbac, "AlwaysAllow": always_allow,
                              "AlwaysDeny": always_deny,
                              "Node": NodeAuthorizer(graph, bootstrap.node_rules())}

    async def sync() -> None:
        await cache.wait_for(await storage.current_revision())

    authorizer = Authorizer([table[m] for m in config.authorization_modes],
                            rbac=rbac if "RBAC" in config.authorization_modes else None,
                            sync=sync)
    chain: list[Authenticator] = []
    if config.token_auth_file is not None:
        chain.append(TokenFile.load(config.token_auth_file))
    chain.extend(authenticators)
    authenticate = impersonating(union(chain, anonymous or _anonymous), authorizer.decide_fresh)
    return Security(authenticate, authorizer, index, graph,
                    EscalationCheck(index, authorizer), AccessReviews(authorizer))
