"""Who is asking, and may they: the authenticate and authorize steps of the request pipeline.

kapi.app runs, for every request, `authenticate(request) -> User` and then
`authorize(user, attributes)`, which returns None to allow and raises an APIError
(401 Unauthorized, 403 Forbidden) to refuse. Both are injected into APIServer, so the
handlers never see how identity was established. The user is then the request's
`current_user()` for the steps below (admission reads it; it is never a parameter).

An `Authenticator` is one way of establishing identity (client certificate, static token,
service-account token): it returns the User, None when the request carries no credential
of its kind, and raises Unauthorized when it carries a bad one. `union` tries them in
order, as upstream's union authenticator does.

Today there is one authenticate (`anonymous_admin`: every caller is system:admin in
system:masters, as kapi serves plain HTTP on loopback) and one authorize (`allow_all`).
The security issue (issue 12) fills this package.

This package must never import the handlers, the registry's write path or storage: an
authorizer that needs objects (RBAC roles) reads them through an injected lister.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping, Protocol, Sequence

from starlette.requests import HTTPConnection

from kapi import errors


@dataclass(frozen=True)
class User:
    """upstream's user.Info: name, uid, groups and extra (values are lists there too)."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def user_info(user: User) -> dict[str, Any]:
    """upstream's authentication/v1 UserInfo of a user (empty fields left out), as
    reviews, AdmissionReview and CSRs carry it."""
    info: dict[str, Any] = {"username": user.name}
    if user.uid:
        info["uid"] = user.uid
    if user.groups:
        info["groups"] = list(user.groups)
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra.items()}
    return info


ADMIN = User("system:admin", ("system:masters", "system:authenticated"))
ANONYMOUS = User("system:anonymous", ("system:unauthenticated",))


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


Authenticate = Callable[[HTTPConnection], Awaitable[User]]
Authenticator = Callable[[HTTPConnection], Awaitable[User | None]]
Authorize = Callable[[User, Attributes], Awaitable[None]]

# the user of the request being served; work the server does on its own (bootstrap,
# controllers inside kapi) runs as ADMIN
_current: ContextVar[User] = ContextVar("kapi_request_user", default=ADMIN)


def current_user() -> User:
    return _current.get()


def set_current_user(user: User) -> None:
    """Called by the app once the request is authenticated (a task's own context)."""
    _current.set(user)


def union(authenticators: Sequence[Authenticator],
          anonymous: Callable[[HTTPConnection], User | None]) -> Authenticate:
    """The first authenticator that recognises a credential decides; a bad credential is
    401 (never a fall back to anonymous); no credential at all is `anonymous(request)`,
    which returns the anonymous User or None for 401."""

    async def authenticate(request: HTTPConnection) -> User:
        for authn in authenticators:
            user = await authn(request)
            if user is not None:
                return user
        user = anonymous(request)
        if user is None:
            raise errors.Unauthorized("Unauthorized")
        return user

    return authenticate


async def anonymous_admin(request: HTTPConnection) -> User:
    """Everyone is the cluster admin (plain HTTP on loopback, no credentials)."""
    return ADMIN


async def allow_all(user: User, info: Attributes) -> None:
    """Every request is allowed."""
    return None
