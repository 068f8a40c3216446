"""The Pod Security Standards as pure checks: which reasons and details a pod spec gets
at each level, worded as upstream's pod-security-admission words them."""

from __future__ import annotations

from typing import Any

from kapi.admission.podsecurity.checks import describe, evaluate

RESTRICTED_CONTAINER = {"name": "ok", "image": "i", "securityContext": {
    "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
RESTRICTED_POD = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def spec(*containers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"containers": list(containers), **fields}


def test_privileged_allows_everything() -> None:
    bad = spec({"name": "x", "securityContext": {"privileged": True}}, hostPID=True)
    assert evaluate("privileged", {}, bad) == []


def test_baseline_host_namespaces_ports_and_volumes() -> None:
    bad = spec({"name": "a", "ports": [{"containerPort": 80, "hostPort": 80}]},
               {"name": "b", "ports": [{"containerPort": 81, "hostPort": 81}],
                "securityContext": {"capabilities": {"add": ["SYS_TIME", "CHOWN", "NET_ADMIN"]}}},
               hostNetwork=True, hostIPC=True,
               volumes=[{"name": "root", "hostPath": {"path": "/"}}])
    assert describe(evaluate("baseline", {}, bad)) == (
        'non-default capabilities (container "b" must not include "NET_ADMIN", "SYS_TIME" in '
        "securityContext.capabilities.add), host namespaces (hostNetwork=true, hostIPC=true), "
        'hostPath volumes (volume "root"), hostPort (containers "a", "b" use hostPorts 80, 81)')


def test_restricted_replaces_the_baseline_checks_it_tightens() -> None:
    bad = spec(dict(RESTRICTED_CONTAINER, securityContext={
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]},
        "seccompProfile": {"type": "Unconfined"}, "runAsUser": 0}),
        securityContext=RESTRICTED_POD,
        volumes=[{"name": "h", "hostPath": {"path": "/"}}, {"name": "n", "nfs": {}},
                 {"name": "fine", "emptyDir": {}}])
    assert describe(evaluate("restricted", {}, bad)) == (
        'unrestricted capabilities (container "ok" must not include "CHOWN" in '
        'securityContext.capabilities.add), restricted volume types (volumes "h", "n" use '
        'restricted volume types "hostPath", "nfs"), runAsUser=0 (container "ok" must not set '
        'runAsUser=0), seccompProfile (container "ok" must not set '
        'securityContext.seccompProfile.type to "Unconfined")')


def test_a_compliant_pod_passes_restricted() -> None:
    assert evaluate("restricted", {}, spec(RESTRICTED_CONTAINER,
                                           securityContext=RESTRICTED_POD)) == []


def test_run_as_non_root_explicit_false_and_unset() -> None:
    bad = spec(dict(RESTRICTED_CONTAINER, name="a"),
               {**RESTRICTED_CONTAINER, "name": "b", "securityContext": {
                   **RESTRICTED_CONTAINER["securityContext"], "runAsNonRoot": False}},
               securityContext={"seccompProfile": {"type": "RuntimeDefault"}})
    assert evaluate("restricted", {}, bad) == [(
        "runAsNonRoot != true", 'container "b" must not set securityContext.runAsNonRoot=false; '
        'pod or container "a" must set securityContext.runAsNonRoot=true')]


def test_apparmor_profiles_from_fields_and_annotations() -> None:
    unconfined = {"appArmorProfile": {"type": "Unconfined"}}
    assert evaluate("baseline", {}, spec(
        {"name": "foo", "securityContext": unconfined},
        securityContext={"appArmorProfile": {"type": "RuntimeDefault"}})) == [
        ("forbidden AppArmor profile",
         'container "foo" must not set AppArmor profile type to "Unconfined"')]
    assert evaluate("baseline", {}, spec({"name": "a"}, securityContext=unconfined)) == [
        ("forbidden AppArmor profile", 'pod must not set AppArmor profile type to "Unconfined"')]
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    meta = {"annotations": {prefix: "bogus", prefix + "a": "", prefix + "b": "runtime/default",
                            prefix + "c": "localhost/", prefix + "d": "localhost/foo",
                            prefix + "e": "unconfined", "other": "unconfined"}}
    assert evaluate("restricted", meta, spec(
        RESTRICTED_CONTAINER, {**RESTRICTED_CONTAINER, "name": "x", "securityContext": {
            **RESTRICTED_CONTAINER["securityContext"], **unconfined}},
        securityContext={**RESTRICTED_POD, **unconfined})) == [
        ("forbidden AppArmor profiles",
         'pod and container "x" and annotations must not set AppArmor profile type to '
         f'"Unconfined", "{prefix}="bogus"", "{prefix}e="unconfined""')]
    allowed = {"annotations": {prefix + "b": "runtime/default", prefix + "d": "localhost/p"}}
    assert evaluate("restricted", allowed, spec(RESTRICTED_CONTAINER, securityContext={
        **RESTRICTED_POD, "appArmorProfile": {"type": "Localhost",
                                             "localhostProfile": "p"}})) == []
