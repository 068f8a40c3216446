"""The authorizer chain of `--authorization-mode` (upstream's values: AlwaysAllow,
AlwaysDeny, Node, RBAC; default Node,RBAC), behind upstream's privileged group: a member
of system:masters may do anything.

`Authorizer.decide` is the decision (allowed, reason) the access reviews report;
`Authorizer.authorize` is the request pipeline's Authorize, which refuses with
upstream's 403 (`pods is forbidden: User "alice" cannot list resource "pods" in API
group "" in the namespace "default"`). A denial is decided twice at most: the second
time after the policy index caught up with storage, so a binding just written counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Protocol

from kapi import errors
from kapi.auth import Attributes, User
from kapi.auth.rbac import rules as policy
from kapi.auth.rbac.index import PolicyIndex

MASTERS = "system:masters"
ALLOW, DENY = "allow", "deny"
Decision = tuple[str | None, str]  # (ALLOW, DENY or None for no opinion; reason)


@dataclass
class Attrs:
    """upstream's authorizer.Attributes (a namespace object is in its own namespace)."""
    is_resource: bool
    path: str = ""
    verb: str = ""
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


def normalize(a: Attributes) -> Attrs:
    ns = a.namespace
    if a.is_resource and a.resource == "namespaces" and a.name and not ns:
        ns = a.name
    return Attrs(a.is_resource, a.path, a.verb, a.group, a.version, ns, a.resource,
                 a.subresource, a.name)


class Mode(Protocol):
    def __call__(self, user: User, a: Attrs) -> Decision: ...


def forbidden_message(user: User, a: Attrs) -> str:
    if not a.is_resource:
        return f'User "{user.name}" cannot {a.verb} path "{a.path}"'
    resource = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    where = f'in the namespace "{a.namespace}"' if a.namespace else "at the cluster scope"
    return (f'User "{user.name}" cannot {a.verb} resource "{resource}" in API group '
            f'"{a.group}" {where}')


def forbidden(user: User, a: Attrs, reason: str) -> errors.Forbidden:
    """upstream's responsewriters.Forbidden: NewForbidden(group/resource, name, message)."""
    msg = forbidden_message(user, a) + (f": {reason}" if reason else "")
    if not a.is_resource or not a.resource:
        return errors.Forbidden(f"forbidden: {msg}", details={})
    qualified = f"{a.resource}.{a.group}" if a.group else a.resource
    details: dict[str, Any] = {"name": a.name} if a.name else {}
    if a.group:
        details["group"] = a.group
    details["kind"] = a.resource
    text = f'{qualified} "{a.name}" is forbidden: {msg}' if a.name else \
        f"{qualified} is forbidden: {msg}"
    return errors.Forbidden(text, details=details)


class RBAC:
    """The RBAC mode over a PolicyIndex."""

    def __init__(self, index: PolicyIndex) -> None:
        self.index = index

    def __call__(self, user: User, a: Attrs) -> Decision:
        problems: list[str] = []
        for grant in self.index.grants(user, a.namespace if a.is_resource else ""):
            if grant.error:
                problems.append(grant.error)
            elif policy.rules_allow(grant.rules, a):
                return ALLOW, f"RBAC: allowed by {grant.source}"
        if not problems:
            return None, ""
        text = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
        return None, f"RBAC: {text}"

    def rules_for(self, user: User, namespace: str) -> tuple[list[dict[str, Any]], str]:
        """Every rule granted in the namespace, and the errors met (SelfSubjectRulesReview)."""
        found: list[dict[str, Any]] = []
        problems: list[str] = []
        for grant in self.index.grants(user, namespace):
            if grant.error:
                problems.append(grant.error)
            found += grant.rules
        return found, ", ".join(problems)


def always_allow(user: User, a: Attrs) -> Decision:
    return ALLOW, ""


def always_deny(user: User, a: Attrs) -> Decision:
    return DENY, "Everything is forbidden."


class Authorizer:
    def __init__(self, modes: Iterable[Mode], *, rbac: RBAC | None = None,
                 sync: Callable[[], Awaitable[None]] | None = None) -> None:
        self.modes = list(modes)
        self.rbac, self.sync = rbac, sync

    def decide(self, user: User, a: Attrs) -> tuple[bool, str]:
        if MASTERS in user.groups:
            return True, ""
        reasons: list[str] = []
        for mode in self.modes:
            decision, reason = mode(user, a)
            if decision == ALLOW:
                return True, reason
            if reason:
                reasons.append(reason)
            if decision == DENY:
                break
        return False, "\n".join(reasons)

    async def decide_fresh(self, user: User, a: Attrs) -> tuple[bool, str]:
        allowed, reason = self.decide(user, a)
        if not allowed and self.sync is not None:
            await self.sync()  # a binding written just before this request counts
            allowed, reason = self.decide(user, a)
        return allowed, reason

    async def authorize(self, user: User, info: Attributes) -> None:
        a = normalize(info)
        allowed, reason = await self.decide_fresh(user, a)
        if not allowed:
            raise forbidden(user, a, reason)
