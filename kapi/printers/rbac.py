"""rbac.authorization.k8s.io/v1 printers: RoleBindings and ClusterRoleBindings.

Roles and ClusterRoles have no upstream printer: they get the default NAME/CREATED AT
table, exactly as kube-apiserver serves them.

Must never: mutate objects, read the clock, or do I/O.
"""

from __future__ import annotations

from typing import Any, Mapping

from kapi.printers.common import AGE, NAME, Column, Ctx, Obj, Printer, age, get, name


def _columns(kind: str, role_ref: str) -> tuple[Column, ...]:
    return (NAME, Column("Role", role_ref), AGE,
            Column("Users", f"Users in the {kind}", priority=1),
            Column("Groups", f"Groups in the {kind}", priority=1),
            Column("ServiceAccounts", f"ServiceAccounts in the {kind}", priority=1))


ROLE_BINDING_COLUMNS = _columns("roleBinding", "RoleRef can reference a Role in the current "
                                               "namespace or a ClusterRole in the global "
                                               "namespace.")
CLUSTER_ROLE_BINDING_COLUMNS = _columns("clusterRoleBinding", "RoleRef can only reference a "
                                                              "ClusterRole in the global "
                                                              "namespace.")


def subjects_strings(subjects: list[Mapping[str, Any]]) -> tuple[str, str, str]:
    """rbac.SubjectsStrings, joined the way the printer joins them (", ")."""
    users, groups, sas = [], [], []
    for s in subjects:
        if s.get("kind") == "ServiceAccount":
            sas.append(f"{s.get('namespace', '')}/{s.get('name', '')}")
        elif s.get("kind") == "User":
            users.append(s.get("name", ""))
        elif s.get("kind") == "Group":
            groups.append(s.get("name", ""))
    return ", ".join(users), ", ".join(groups), ", ".join(sas)


def binding_row(b: Obj, ctx: Ctx) -> list[Any]:
    role = f"{get(b, 'roleRef', 'kind', default='')}/{get(b, 'roleRef', 'name', default='')}"
    return [name(b), role, age(b, ctx), *subjects_strings(b.get("subjects") or [])]


ROLE_BINDING = Printer(ROLE_BINDING_COLUMNS, binding_row)
CLUSTER_ROLE_BINDING = Printer(CLUSTER_ROLE_BINDING_COLUMNS, binding_row)
