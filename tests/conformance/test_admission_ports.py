"""The ported AdmissionWebhook and ValidatingAdmissionPolicy conformance tests (stretch
class, so not in test_conformance's core run) against the shared `kapi up` cluster: every
ported one passes. The webhook runs in the conformance process (conformance/images/
webhook.py) behind a selector-less Service, so no container is needed."""

from __future__ import annotations

from kubernetes import client

from conformance import inventory
from conformance.framework import PORTS
from tests.helpers import api_for
from tests.test_conformance import run_port

FOCUS = r"AdmissionWebhook|ValidatingAdmissionPolicy"


def _cluster_scoped_admission_objects(kubeconfig) -> set[str]:
    adm = client.AdmissionregistrationV1Api(api_for(kubeconfig))
    lists = {"validating": adm.list_validating_webhook_configuration,
             "mutating": adm.list_mutating_webhook_configuration,
             "policy": adm.list_validating_admission_policy,
             "binding": adm.list_validating_admission_policy_binding}
    return {f"{kind}/{o.metadata.name}" for kind, ls in lists.items() for o in ls().items}


def test_admission_ports_pass_against_kapi(cluster, tmp_path):
    before = _cluster_scoped_admission_objects(cluster.kubeconfig)
    p, rep = run_port(cluster.kubeconfig, tmp_path, "--focus", FOCUS, "--ported-only",
                      "--parallel", "4")
    results = {t["name"]: t["result"] for t in rep["tests"]}
    ported = {c for c in PORTS if "AdmissionWebhook" in c or "ValidatingAdmissionPolicy" in c}
    assert set(results) == ported and len(ported) == 20
    assert all(inventory.by_codename(c)["class"] == "stretch" for c in ported)
    failed = {n: r for n, r in results.items() if r != "passed"}
    assert not failed, p.stdout[-4000:]
    assert p.returncode == 0
    # the ports delete the cluster-scoped configurations they made (the namespace sweep
    # does not reach them)
    left = _cluster_scoped_admission_objects(cluster.kubeconfig) - before
    assert not left, left
