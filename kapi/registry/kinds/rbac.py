"""RBAC kinds: any name usable as a URL path segment (upstream's
ValidateRBACName = path.IsValidPathSegmentName); no other rules yet."""

from __future__ import annotations

from kapi.printers import rbac as rbac_printers
from kapi.registry.kinds.base import Strategy, row
from kapi.validation.meta import path_segment_name

RBAC = "io.k8s.api.rbac.v1"
GROUP = "rbac.authorization.k8s.io"

ROLES = Strategy(row(GROUP, "v1", "roles", "Role", RBAC), name_rule=path_segment_name)
ROLE_BINDINGS = Strategy(row(GROUP, "v1", "rolebindings", "RoleBinding", RBAC),
                         printer=rbac_printers.ROLE_BINDING, name_rule=path_segment_name)
CLUSTER_ROLES = Strategy(row(GROUP, "v1", "clusterroles", "ClusterRole", RBAC,
                             namespaced=False), name_rule=path_segment_name)
CLUSTER_ROLE_BINDINGS = Strategy(
    row(GROUP, "v1", "clusterrolebindings", "ClusterRoleBinding", RBAC, namespaced=False),
    printer=rbac_printers.CLUSTER_ROLE_BINDING, name_rule=path_segment_name)
