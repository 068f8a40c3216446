"""`--use-service-account-credentials` (upstream's kube-controller-manager flag, which
kubeadm sets): each controller writes as its own service account in kube-system, held to
its system:controller: role, and the cluster still works. Seen as an operator sees it:
in the audit log, who created the ReplicaSet, its pods and who emptied the namespace; and
no controller account was refused anything meanwhile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import kubectls, start_server, stop_server
from tests.helpers import api_for, wait_for

SA = "system:serviceaccount:kube-system:"


def test_each_controller_writes_as_its_own_account(tmp_path: Path) -> None:
    from kubernetes import client

    if not kubectls():
        pytest.skip("no kubectl installed")
    log = tmp_path / "audit.log"
    s = start_server(tmp_path / "kapi", command="up", extra=(
        "--nodes", "0", "--simulated-nodes", "1", "--no-dns", "--no-proxy",
        "--use-service-account-credentials", "--audit-log-path", str(log)))
    try:
        with api_for(s.kubeconfig) as api:
            core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
            core.create_namespace({"metadata": {"name": "work"}})
            apps.create_namespaced_deployment("work", {
                "metadata": {"name": "web"}, "spec": {
                    "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                        "containers": [{"name": "c", "image": "busybox"}]}}}})
            wait_for(lambda: apps.read_namespaced_deployment("web", "work").status
                     .available_replicas == 2, "the deployment's pods", timeout=60)
            core.delete_namespace("work")

            def gone() -> bool:
                return "work" not in [n.metadata.name for n in core.list_namespace().items]
            wait_for(gone, "the namespace to be emptied and removed", timeout=60)
            accounts = {sa.metadata.name for sa in
                        core.list_namespaced_service_account("kube-system").items}
        assert {"deployment-controller", "replicaset-controller",
                "namespace-controller"} <= accounts
    finally:
        stop_server(s.proc)
    events = [json.loads(x) for x in log.read_text().splitlines()]
    complete = [e for e in events if e["stage"] == "ResponseComplete"]

    def writer(verb: str, resource: str, name: str = "") -> set[str]:
        return {e["user"]["username"] for e in complete
                if e["verb"] == verb and e.get("objectRef", {}).get("resource") == resource
                and e.get("objectRef", {}).get("namespace") == "work"
                and not e["objectRef"].get("subresource")
                and name in (e.get("objectRef", {}).get("name"), "")
                and e["responseStatus"]["code"] < 300}
    assert writer("create", "replicasets") == {SA + "deployment-controller"}
    assert writer("create", "pods") == {SA + "replicaset-controller"}
    assert SA + "namespace-controller" in writer("delete", "replicasets") | writer(
        "deletecollection", "replicasets")
    # refused by authorization (not by NamespaceLifecycle's "being terminated")
    refused = [(e["user"]["username"], e["verb"], e.get("objectRef"), e["responseStatus"])
               for e in complete if e["user"]["username"].startswith(SA)
               and e["responseStatus"]["code"] == 403
               and " cannot " in e["responseStatus"].get("message", "")]
    assert not refused, refused[:10]
