"""Who is asking, and may they: the authenticate and authorize steps of the request pipeline.

kapi.app runs, for every request, `authenticate(request) -> User` and then
`authorize(user, attributes)`, which returns None to allow and raises an APIError
(401 Unauthorized, 403 Forbidden) to refuse. Both are injected into APIServer, so the
handlers never see how identity was established.

Today there is one of each: `anonymous_admin` (every caller is system:admin in
system:masters, as kapi serves plain HTTP on loopback) and `allow_all`. The security issue
(issue 12) fills this package: client certificates, static and service-account bearer
tokens, impersonation headers, 401 for anonymous requests beyond health and discovery, RBAC
with upstream's default roles and the node authorizer, and the access reviews that
`kubectl auth can-i` / `whoami` read.

This package must never import the handlers, the registry's write path or storage: an
authorizer that needs objects (RBAC roles) reads them through an injected lister.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable, Protocol

from starlette.requests import Request


@dataclass
class User:
    name: str
    groups: tuple[str, ...]


class Attributes(Protocol):
    """What an authorizer decides on (kapi.endpoints.requestinfo.RequestInfo has these):
    upstream's authorizer.Attributes, declared here so auth never imports endpoints."""

    is_resource: bool
    path: str
    verb: str
    group: str
    version: str
    namespace: str
    resource: str
    subresource: str
    name: str


Authenticate = Callable[[Request], Awaitable[User]]
Authorize = Callable[[User, Attributes], Awaitable[None]]


async def anonymous_admin(request: Request) -> User:
    """Everyone is the cluster admin (plain HTTP on loopback, no credentials)."""
    return User("system:admin", ("system:masters", "system:authenticated"))


async def allow_all(user: User, info: Attributes) -> None:
    """Every request is allowed."""
    return None
