"""RBAC's escalation prevention: nobody grants what they do not hold.

A Role or ClusterRole write needs every permission it grants to be held by the writer in
that namespace (or the `escalate` verb on it); a RoleBinding or ClusterRoleBinding write
needs the permissions of the role it refers to (or the `bind` verb on that role); a
ClusterRole with an aggregationRule needs cluster-admin's. system:masters may do
anything. An update that leaves the rules (or the roleRef) unchanged is not checked, as
upstream. The refusal is upstream's 403:
`user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions
not currently held:` and one compacted rule per line.
"""

from __future__ import annotations

from typing import Any

from kapi import errors
from kapi.auth import User, current_user
from kapi.auth.rbac import rules as policy
from kapi.auth.rbac.authorizer import MASTERS, Attrs, Authorizer
from kapi.auth.rbac.index import RBAC_GROUP, PolicyIndex

Obj = dict[str, Any]
FULL_AUTHORITY = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                  {"verbs": ["*"], "nonResourceURLs": ["*"]}]


class EscalationCheck:
    def __init__(self, index: PolicyIndex, authorizer: Authorizer) -> None:
        self.index, self.authorizer = index, authorizer

    async def __call__(self, r: Any, op: str, new: Obj | None, old: Obj | None) -> None:
        if r.group != RBAC_GROUP or op not in ("CREATE", "UPDATE") or new is None:
            return
        user = current_user()
        if MASTERS in user.groups:
            return
        md = new.get("metadata") or {}
        ns, name = md.get("namespace") or "", md.get("name") or ""
        if r.resource in ("roles", "clusterroles"):
            await self._role(r, user, ns, name, new, old)
        elif r.resource in ("rolebindings", "clusterrolebindings"):
            await self._binding(r, user, ns, name, new, old)

    async def _allowed(self, user: User, verb: str, resource: str, ns: str, name: str) -> bool:
        a = Attrs(True, verb=verb, group=RBAC_GROUP, version="v1", namespace=ns,
                  resource=resource, name=name)
        return (await self.authorizer.decide_fresh(user, a))[0]

    async def _role(self, r: Any, user: User, ns: str, name: str, new: Obj,
                    old: Obj | None) -> None:
        if old is not None and (old.get("rules") or []) == (new.get("rules") or []) and \
                old.get("aggregationRule") == new.get("aggregationRule"):
            return
        if await self._allowed(user, "escalate", r.resource, ns, name):
            return
        if new.get("aggregationRule") and self._missing(user, ns, FULL_AUTHORITY)[0]:
            raise _forbidden(r, name, "must have cluster-admin privileges to use the "
                                      "aggregationRule")
        self._confirm(r, user, ns, name, new.get("rules") or [])

    async def _binding(self, r: Any, user: User, ns: str, name: str, new: Obj,
                       old: Obj | None) -> None:
        ref = new.get("roleRef") or {}
        if old is not None and old.get("roleRef") == ref:
            return
        kind = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
        if await self._allowed(user, "bind", kind, ns, ref.get("name") or ""):
            return
        rules, error = self.index.role_rules(ref, ns)
        if rules is None:
            what = "clusterroles" if kind == "clusterroles" else "roles"
            raise errors.NotFound(f'{what}.{RBAC_GROUP} "{ref.get("name")}" not found',
                                  details={"name": ref.get("name"), "group": RBAC_GROUP,
                                           "kind": what})
        self._confirm(r, user, ns, name, rules)

    def _missing(self, user: User, ns: str, wanted: list[Obj]) -> tuple[list[Obj], str]:
        owned, problems = self.authorizer.rbac.rules_for(user, ns) \
            if self.authorizer.rbac is not None else ([], "")
        return policy.missing(owned, wanted), problems

    def _confirm(self, r: Any, user: User, ns: str, name: str, wanted: list[Obj]) -> None:
        lacking, problems = self._missing(user, ns, wanted)
        if not lacking:
            return
        lines = sorted({policy.compact_string(x) for x in policy.compact(lacking)})
        msg = (f'user "{user.name}" (groups={policy.go_strings(user.groups)}) is attempting '
               f"to grant RBAC permissions not currently held:\n" + "\n".join(lines))
        if problems:
            msg += f"; resolution errors: [{problems}]"
        raise _forbidden(r, name, msg)


def _forbidden(r: Any, name: str, msg: str) -> errors.Forbidden:
    return errors.Forbidden(f'{r.resource}.{r.group} "{name}" is forbidden: {msg}',
                            details={"name": name, "group": r.group, "kind": r.resource})
