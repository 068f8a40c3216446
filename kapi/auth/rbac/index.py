"""The RBAC policy objects, indexed so a decision reads only the bindings of the asking
user and their groups (never every binding).

PolicyIndex is fed watch events (`apply`) for roles, clusterroles, rolebindings and
clusterrolebindings; it holds the objects as they arrive (shared, never mutated) and
answers `grants(user, namespace)`: each binding that applies, with its role's rules or
the error of a missing role, as upstream's rule resolver visits them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from kapi.auth import User

Obj = dict[str, Any]
SubjectKey = tuple[str, str]  # ("User", name) or ("Group", name)
RESOURCES = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")
RBAC_GROUP = "rbac.authorization.k8s.io"


def sa_username(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def subject_key(subject: Obj, binding_namespace: str) -> SubjectKey | None:
    kind, name = subject.get("kind"), subject.get("name") or ""
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return ("User", sa_username(ns, name)) if ns else None
    if kind in ("User", "Group"):
        return (kind, name)
    return None


def describe_subject(subject: Obj, binding_namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return f'ServiceAccount "{subject.get("name")}/{ns}"'
    return f'{subject.get("kind")} "{subject.get("name")}"'


@dataclass(frozen=True)
class Grant:
    """One binding that applies to the user: where from (upstream's describer) and the
    rules it grants, or the reason they could not be read."""
    source: str
    rules: list[Obj]
    error: str = ""


class PolicyIndex:
    def __init__(self) -> None:
        self.roles: dict[tuple[str, str], Obj] = {}
        self.cluster_roles: dict[str, Obj] = {}
        self.bindings: dict[tuple[str, str], Obj] = {}  # (namespace, name); "" for cluster
        self.by_subject: dict[tuple[str, SubjectKey], set[str]] = {}  # (namespace, key)

    # -- feeding ----------------------------------------------------------------------
    def apply(self, resource: str, deleted: bool, obj: Obj) -> None:
        md = obj.get("metadata") or {}
        ns, name = md.get("namespace") or "", md.get("name") or ""
        if resource == "roles":
            self._put(self.roles, (ns, name), obj, deleted)
        elif resource == "clusterroles":
            self._put(self.cluster_roles, name, obj, deleted)
        elif resource in ("rolebindings", "clusterrolebindings"):
            ns = ns if resource == "rolebindings" else ""
            old = self.bindings.pop((ns, name), None)
            if old is not None:
                self._index(old, ns, name, remove=True)
            if not deleted:
                self.bindings[(ns, name)] = obj
                self._index(obj, ns, name, remove=False)

    @staticmethod
    def _put(table: dict[Any, Obj], key: Any, obj: Obj, deleted: bool) -> None:
        if deleted:
            table.pop(key, None)
        else:
            table[key] = obj

    def _index(self, binding: Obj, ns: str, name: str, *, remove: bool) -> None:
        for s in binding.get("subjects") or []:
            key = subject_key(s, ns)
            if key is None:
                continue
            names = self.by_subject.setdefault((ns, key), set())
            if remove:
                names.discard(name)
                if not names:
                    del self.by_subject[(ns, key)]
            else:
                names.add(name)

    # -- reading ----------------------------------------------------------------------
    def role_rules(self, ref: Obj, namespace: str) -> tuple[list[Obj] | None, str]:
        """The rules a roleRef names, or None and upstream's not-found message."""
        kind, name = ref.get("kind"), ref.get("name") or ""
        role = self.cluster_roles.get(name) if kind == "ClusterRole" else \
            self.roles.get((namespace, name)) if kind == "Role" else None
        if role is None:
            what = "clusterrole" if kind == "ClusterRole" else "role"
            return None, f'{what}.{RBAC_GROUP} "{name}" not found'
        return list(role.get("rules") or []), ""

    def _names_for(self, user: User, ns: str) -> list[str]:
        keys = [("User", user.name)] + [("Group", g) for g in user.groups]
        found: set[str] = set()
        for k in keys:
            found |= self.by_subject.get((ns, k), set())
        return sorted(found)

    def grants(self, user: User, namespace: str) -> Iterator[Grant]:
        """Cluster role bindings first, then the namespace's role bindings."""
        for ns in ("", namespace) if namespace else ("",):
            for name in self._names_for(user, ns):
                binding = self.bindings.get((ns, name))
                if binding is None:
                    continue
                subject = self._subject_for(binding, ns, user)
                if subject is None:
                    continue
                ref = binding.get("roleRef") or {}
                rules, error = self.role_rules(ref, ns)
                kind = "RoleBinding" if ns else "ClusterRoleBinding"
                where = f"{name}/{ns}" if ns else name
                source = (f'{kind} "{where}" of {ref.get("kind")} "{ref.get("name")}" '
                          f"to {describe_subject(subject, ns)}")
                yield Grant(source, rules or [], error)

    @staticmethod
    def _subject_for(binding: Obj, ns: str, user: User) -> Obj | None:
        for s in binding.get("subjects") or []:
            key = subject_key(s, ns)
            if key == ("User", user.name) or (key is not None and key[0] == "Group"
                                              and key[1] in user.groups):
                return s
        return None
