"""Impersonation headers (Impersonate-User, -Group, -Uid, -Extra-KEY): a requestor
allowed the `impersonate` verb on users, groups, serviceaccounts, uids and userextras
acts as the user they name, as upstream's impersonation filter does.

`impersonating(authenticate, authorize)` wraps an Authenticate: the request's user is
the impersonated one when every part of it is allowed, and the refusal is upstream's
403 on the first part that is not (`users "bob" is forbidden: User "alice" cannot
impersonate resource "users" in API group "" at the cluster scope`).
"""

from __future__ import annotations

import urllib.parse
from typing import Awaitable, Callable

from starlette.requests import HTTPConnection

from kapi import errors
from kapi.auth import Authenticate, User
from kapi.auth.rbac.authorizer import Attrs, forbidden

USER, GROUP, UID, EXTRA = "impersonate-user", "impersonate-group", "impersonate-uid", \
    "impersonate-extra-"
SA_PREFIX = "system:serviceaccount:"
AUTHENTICATED, UNAUTHENTICATED = "system:authenticated", "system:unauthenticated"
Decide = Callable[[User, Attrs], Awaitable[tuple[bool, str]]]


def _asked(request: HTTPConnection) -> tuple[str, list[str], str, dict[str, list[str]]]:
    h = request.headers
    extra: dict[str, list[str]] = {}
    for raw_key, raw_value in h.raw:  # header names arrive lower-cased
        k = raw_key.decode("latin-1")
        if k.startswith(EXTRA):
            key = urllib.parse.unquote(k[len(EXTRA):]).lower()
            extra.setdefault(key, []).append(raw_value.decode("latin-1"))
    return h.get(USER, ""), h.getlist(GROUP), h.get(UID, ""), extra


def _checks(name: str, groups: list[str], uid: str,
            extra: dict[str, list[str]]) -> list[Attrs]:
    """The impersonate permissions the request needs, in upstream's order."""
    out: list[Attrs] = []
    if name.startswith(SA_PREFIX) and name.count(":") == 3:
        ns, sa = name[len(SA_PREFIX):].split(":")
        out.append(Attrs(True, verb="impersonate", namespace=ns, resource="serviceaccounts",
                         name=sa))
    else:
        out.append(Attrs(True, verb="impersonate", resource="users", name=name))
    out += [Attrs(True, verb="impersonate", resource="groups", name=g) for g in groups]
    out += [Attrs(True, verb="impersonate", group="authentication.k8s.io",
                  resource="userextras", subresource=k, name=v)
            for k, values in extra.items() for v in values]
    if uid:
        out.append(Attrs(True, verb="impersonate", group="authentication.k8s.io",
                         resource="uids", name=uid))
    return out


def _impersonated(name: str, groups: list[str], uid: str,
                  extra: dict[str, list[str]]) -> User:
    gs = list(groups)
    if name.startswith(SA_PREFIX) and name.count(":") == 3 and not gs:
        ns = name.split(":")[2]
        gs = ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    if name != "system:anonymous" and AUTHENTICATED not in gs and UNAUTHENTICATED not in gs:
        gs.append(AUTHENTICATED)
    return User(name, tuple(gs), uid, {k: tuple(v) for k, v in extra.items()})


def impersonating(authenticate: Authenticate, decide: Decide) -> Authenticate:
    async def wrapped(request: HTTPConnection) -> User:
        requestor = await authenticate(request)
        name, groups, uid, extra = _asked(request)
        if not (name or groups or uid or extra):
            return requestor
        if not name:
            raise errors.BadRequest("requested impersonation of groups, uid or extra "
                                    "without impersonating a user")
        for check in _checks(name, groups, uid, extra):
            allowed, reason = await decide(requestor, check)
            if not allowed:
                raise forbidden(requestor, check, reason)
        return _impersonated(name, groups, uid, extra)

    return wrapped
