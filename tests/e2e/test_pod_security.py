"""Pod Security admission through real kubectl and the Python client: a restricted
namespace refuses a privileged pod with upstream's message, warns on a Deployment whose
template would be refused, warns about existing pods when its enforce level tightens,
refuses an unconfined AppArmor profile at baseline, and refuses a label value that is no
level."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.conftest import start_server, stop_server
from tests.helpers import api_for

ENFORCE = "pod-security.kubernetes.io/enforce"


def privileged_pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "x", "image": "busybox",
                                     "securityContext": {"privileged": True}}]}}


def restricted_pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"securityContext": {"runAsNonRoot": True,
                                         "seccompProfile": {"type": "RuntimeDefault"}},
                     "containers": [{"name": "x", "image": "busybox", "securityContext": {
                         "allowPrivilegeEscalation": False,
                         "capabilities": {"drop": ["ALL"]}}}]}}


def test_restricted_namespace_refuses_a_privileged_pod(kubectl, ns):
    kubectl("label", "namespace", ns, f"{ENFORCE}=restricted")
    p = kubectl.run("apply", "-n", ns, "-f", "-", input=json.dumps(privileged_pod("priv")),
                    check=False)
    assert p.returncode != 0
    assert ('pods "priv" is forbidden: violates PodSecurity "restricted:latest": '
            'allowPrivilegeEscalation != false (container "x" must set '
            "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
            '(container "x" must set securityContext.capabilities.drop=["ALL"]), privileged '
            '(container "x" must not set securityContext.privileged=true), runAsNonRoot != true '
            '(pod or container "x" must set securityContext.runAsNonRoot=true), seccompProfile '
            '(pod or container "x" must set securityContext.seccompProfile.type to '
            '"RuntimeDefault" or "Localhost")') in p.stderr
    kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(restricted_pod("ok")))


def test_a_deployment_is_admitted_with_a_warning(kubectl, ns):
    kubectl("label", "namespace", ns, f"{ENFORCE}=baseline", "pod-security.kubernetes.io/"
            "warn=restricted", "pod-security.kubernetes.io/warn-version=v1.30")
    p = kubectl.run("create", "deployment", "web", "--image=busybox", "-n", ns)
    assert p.returncode == 0
    assert ('Warning: would violate PodSecurity "restricted:v1.30": allowPrivilegeEscalation '
            '!= false (container "busybox" must set securityContext.allowPrivilegeEscalation'
            "=false)") in p.stderr
    # baseline is enforced on pods: hostNetwork is refused, a plain pod only warned about
    pod = restricted_pod("host")
    pod["spec"]["hostNetwork"] = True
    p = kubectl.run("apply", "-n", ns, "-f", "-", input=json.dumps(pod), check=False)
    assert 'violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)' \
        in p.stderr


def test_baseline_refuses_an_unconfined_apparmor_profile(kubectl, ns):
    kubectl("label", "namespace", ns, f"{ENFORCE}=baseline")
    pod = restricted_pod("unconfined")
    pod["spec"]["containers"][0]["securityContext"]["appArmorProfile"] = {"type": "Unconfined"}
    p = kubectl.run("apply", "-n", ns, "-f", "-", input=json.dumps(pod), check=False)
    assert p.returncode != 0
    assert ('pods "unconfined" is forbidden: violates PodSecurity "baseline:latest": forbidden '
            'AppArmor profile (container "x" must not set AppArmor profile type to '
            '"Unconfined")') in p.stderr, p.stderr
    pod["spec"]["containers"][0]["securityContext"]["appArmorProfile"] = {
        "type": "RuntimeDefault"}
    pod["metadata"]["annotations"] = {
        "container.apparmor.security.beta.kubernetes.io/x": "runtime/default"}
    kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(pod))


def test_tightening_a_namespace_warns_about_its_pods(server, ns):
    with api_for(server.kubeconfig) as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_pod(ns, privileged_pod("old"))
        _, _, headers = core.patch_namespace_with_http_info(
            ns, {"metadata": {"labels": {ENFORCE: "baseline"}}})
        warning = headers.get("Warning", "")
        assert (f'existing pods in namespace \\"{ns}\\" violate the new PodSecurity enforce '
                'level \\"baseline:latest\\"') in warning
        assert "old: privileged" in warning
        with pytest.raises(ApiException) as e:
            core.patch_namespace(ns, {"metadata": {"labels": {ENFORCE: "strict"}}})
        assert e.value.status == 422
        assert json.loads(e.value.body)["message"] == (
            f'Namespace "{ns}" is invalid: metadata.labels[{ENFORCE}]: Invalid value: '
            '"strict": must be one of privileged, baseline, restricted')


def test_admission_configuration_sets_defaults_and_exemptions(tmp_path):
    conf = tmp_path / "admission.yaml"
    conf.write_text(yaml.safe_dump({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
        "plugins": [{"name": "PodSecurity", "configuration": {
            "apiVersion": "pod-security.admission.config.k8s.io/v1",
            "kind": "PodSecurityConfiguration",
            "defaults": {"enforce": "baseline", "enforce-version": "latest"},
            "exemptions": {"namespaces": ["tools"], "usernames": [],
                           "runtimeClasses": ["trusted"]}}}]}))
    s = start_server(tmp_path / "kapi", extra=("--admission-control-config-file", str(conf)))
    try:
        with api_for(s.kubeconfig) as api:
            core = client.CoreV1Api(api)
            for ns in ("plain", "tools"):
                core.create_namespace({"metadata": {"name": ns}})
            with pytest.raises(ApiException) as e:
                core.create_namespaced_pod("plain", privileged_pod("p"))
            assert json.loads(e.value.body)["message"] == (
                'pods "p" is forbidden: violates PodSecurity "baseline:latest": privileged '
                '(container "x" must not set securityContext.privileged=true)')
            core.create_namespaced_pod("tools", privileged_pod("p"))  # an exempt namespace
            client.NodeV1Api(api).create_runtime_class(  # RuntimeClass admission needs it
                {"metadata": {"name": "trusted"}, "handler": "runc"})
            trusted = privileged_pod("q")
            trusted["spec"]["runtimeClassName"] = "trusted"
            core.create_namespaced_pod("plain", trusted)  # an exempt runtime class
    finally:
        stop_server(s.proc)
