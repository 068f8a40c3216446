"""The bootstrap policy at start: a data dir made by an earlier kapi keeps nothing kapi
has retired (kapi:kubelet-object-watch, which let every node list and watch every Secret)
unless a user turned its autoupdate off, as upstream's reconciliation respects it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import start_server, stop_server

RBAC = "/apis/rbac.authorization.k8s.io/v1"
RETIRED = "kapi:kubelet-object-watch"


def _meta(autoupdate: str) -> dict[str, object]:
    return {"name": RETIRED, "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": autoupdate}}


def test_a_retired_role_and_binding_go_at_start(tmp_path: Path) -> None:
    data = tmp_path / "kapi"
    s = start_server(data)
    with s.client() as c:
        r = c.post(f"{RBAC}/clusterroles", json={"metadata": _meta("true"), "rules": [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list", "watch"]}]})
        assert r.status_code == 201, r.text
        r = c.post(f"{RBAC}/clusterrolebindings", json={
            "metadata": _meta("false"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": RETIRED},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                          "name": "system:nodes"}]})
        assert r.status_code == 201, r.text
    stop_server(s.proc)
    s = start_server(data)
    try:
        with s.client() as c:
            assert c.get(f"{RBAC}/clusterroles/{RETIRED}").status_code == 404
            # the user's choice (autoupdate "false") is kept, though its role is gone
            assert c.get(f"{RBAC}/clusterrolebindings/{RETIRED}").status_code == 200
            assert c.get(f"{RBAC}/clusterroles/system:node").status_code == 200
    finally:
        stop_server(s.proc)
