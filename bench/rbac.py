"""RBAC decision cost, in process: decisions per second for a user reached through a
group binding among N bindings (the index reads only the user's and groups' bindings,
so N should not matter), next to the system:masters shortcut.

    python -m bench.rbac [--bindings 10000]
"""

from __future__ import annotations

import argparse
import time

from kapi.auth import User
from kapi.auth.rbac import bootstrap
from kapi.auth.rbac.authorizer import RBAC, Attrs, Authorizer
from kapi.auth.rbac.index import PolicyIndex


def _index(bindings: int) -> PolicyIndex:
    idx = PolicyIndex()
    for role in bootstrap.cluster_roles():
        idx.apply("clusterroles", False, role)
    for b in bootstrap.cluster_role_bindings():
        idx.apply("clusterrolebindings", False, b)
    for i in range(bindings):  # other users' bindings in many namespaces
        idx.apply("rolebindings", False, {
            "metadata": {"name": f"b{i}", "namespace": f"ns{i % 100}"},
            "roleRef": {"kind": "ClusterRole", "name": "system:aggregate-to-edit"},
            "subjects": [{"kind": "User", "name": f"user{i}"}]})
    idx.apply("rolebindings", False, {
        "metadata": {"name": "devs", "namespace": "ns7"},
        "roleRef": {"kind": "ClusterRole", "name": "system:aggregate-to-view"},
        "subjects": [{"kind": "Group", "name": "devs"}]})
    return idx


def _rate(authz: Authorizer, user: User, a: Attrs, n: int = 20_000) -> float:
    start = time.perf_counter()
    for _ in range(n):
        authz.decide(user, a)
    return n / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bindings", type=int, default=10_000)
    args = p.parse_args()
    authz = Authorizer([RBAC(_index(args.bindings))])
    a = Attrs(True, verb="list", version="v1", namespace="ns7", resource="pods")
    dev = User("dana", ("devs", "system:authenticated"))
    admin = User("admin", ("system:masters",))
    print(f"RBAC decisions/s with {args.bindings} bindings: allowed via a group "
          f"{_rate(authz, dev, a):,.0f}; denied {_rate(authz, User('x'), a):,.0f}; "
          f"system:masters {_rate(authz, admin, a):,.0f}")


if __name__ == "__main__":
    main()
