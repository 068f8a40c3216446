"""Semantic validation per kind, with upstream's paths and wording (messages as
k8s.io/apimachinery/pkg/util/validation and pkg/apis/*/validation write them)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kapi.meta.resources import Resource
from kapi.registry.kinds import SCHEME
from kapi.validation.field import FieldError

Obj = dict[str, Any]
SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
             "characters, '-' or '.', and must start and end with an alphanumeric character "
             "(e.g. 'example.com', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def default(r: Resource | None, obj: Obj) -> None:
    assert r is not None
    r.strategy.default(r, obj)


def _row(group: str, kind: str) -> Resource:
    return next(r for r in SCHEME.resources if r.group == group and r.kind == kind)


def validate(group: str, kind: str, obj: Obj) -> list[FieldError]:
    """What the kind's strategy finds wrong with a new object."""
    r = _row(group, kind)
    return r.strategy.validate(r, obj)  # type: ignore[no-any-return]


def validate_update(group: str, kind: str, new: Obj, old: Obj) -> list[FieldError]:
    r = _row(group, kind)
    return r.strategy.validate_update(r, new, old)  # type: ignore[no-any-return]


def deployment(**spec: Any) -> Obj:
    base: Obj = {"apiVersion": "apps/v1", "kind": "Deployment",
                 "metadata": {"name": "web", "namespace": "ns"},
                 "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                          "template": {"metadata": {"labels": {"app": "web"}},
                                       "spec": {"containers": [{"name": "web",
                                                                "image": "nginx:1"}]}}}}
    base["spec"].update(spec)
    default(SCHEME.get("apps", "v1", "deployments"), base)
    return base


def messages(group: str, kind: str, obj: Obj) -> list[str]:
    return [str(e) for e in validate(group, kind, obj)]


def test_a_valid_deployment_has_no_errors() -> None:
    assert messages("apps", "Deployment", deployment()) == []


def test_every_bad_field_of_a_deployment_is_listed() -> None:
    d = deployment(replicas=-1)
    d["metadata"]["name"] = "Web_1"
    d["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    c = d["spec"]["template"]["spec"]["containers"][0]
    c["image"] = ""
    c["ports"] = [{"containerPort": 70000, "protocol": "TCP"}]
    c["resources"] = {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}
    assert messages("apps", "Deployment", d) == [
        f'metadata.name: Invalid value: "Web_1": {SUBDOMAIN}',
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
        "`selector` does not match template `labels`",
        "spec.template.spec.containers[0].image: Required value",
        "spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: "
        "must be between 1 and 65535, inclusive",
        'spec.template.spec.containers[0].resources.requests: Invalid value: "2": must be '
        "less than or equal to cpu limit of 1",
    ]


def test_missing_selector_and_containers() -> None:
    d = deployment()
    del d["spec"]["selector"]
    d["spec"]["template"]["spec"]["containers"] = []
    assert messages("apps", "Deployment", d) == [
        "spec.selector: Required value",
        "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: "
        "`selector` does not match template `labels`",
        "spec.template.spec.containers: Required value",
    ]


def test_strategies_and_restart_policy() -> None:
    assert messages("apps", "Deployment", deployment(strategy={"type": "Recreate"})) == []
    d = deployment(strategy={"type": "RollingUpdate",
                             "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}})
    d["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert messages("apps", "Deployment", d) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: '
        '"Always"',
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0%: may not be 0 when "
        "`maxSurge` is 0",
    ]
    d = deployment(strategy={"type": "Recreate", "rollingUpdate": {}})
    assert messages("apps", "Deployment", d) == [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` "
        "is 'Recreate'"]
    d = deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "x"}})
    assert messages("apps", "Deployment", d) == [
        "spec.strategy.rollingUpdate.maxSurge: Invalid value: x: a valid percent string must "
        "be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for "
        "validation is '[0-9]+%')"]


def test_immutable_selector() -> None:
    old = deployment()
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "b"}}
    new["spec"]["template"]["metadata"]["labels"] = {"app": "b"}
    assert [str(e) for e in validate_update("apps", "Deployment", new, old)] == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":'
        '"b"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable']


def pod(**spec: Any) -> Obj:
    p: Obj = {"metadata": {"name": "p", "namespace": "ns"},
              "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}
    default(SCHEME.get("", "v1", "pods"), p)
    return p


def test_pod_spec_rules() -> None:
    p = pod(restartPolicy="Sometimes", volumes=[{"name": "v", "emptyDir": {},
                                                  "configMap": {"name": "x"}}])
    c = p["spec"]["containers"][0]
    c["volumeMounts"] = [{"name": "nope", "mountPath": "/x"}]
    c["ports"] = [{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}]
    p["spec"]["containers"].append({"name": "c", "image": "x"})
    assert messages("", "Pod", p) == [
        "spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type",
        'spec.containers[0].ports[1].name: Duplicate value: "http"',
        'spec.containers[0].volumeMounts[0].name: Not found: "nope"',
        'spec.containers[1].name: Duplicate value: "c"',
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", '
        '"OnFailure", "Never"',
    ]


def test_container_restart_policy_makes_sidecars() -> None:
    probe = {"exec": {"command": ["true"]}}
    p = pod(initContainers=[
        {"name": "side", "image": "busybox", "restartPolicy": "Always", "startupProbe": probe,
         "lifecycle": {"preStop": {"sleep": {"seconds": 1}}}},
        {"name": "init", "image": "busybox", "readinessProbe": probe},
        {"name": "odd", "image": "busybox", "restartPolicy": "Never"}])
    p["spec"]["containers"][0]["restartPolicy"] = "Always"
    assert messages("", "Pod", p) == [
        "spec.initContainers[1].readinessProbe: Forbidden: may not be set for init "
        "containers without restartPolicy=Always",
        'spec.initContainers[2].restartPolicy: Unsupported value: "Never": supported '
        'values: "Always"',
        "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
    ]


def test_pod_update_may_change_only_images() -> None:
    old = pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "busybox:2"
    assert validate_update("", "Pod", new, old) == []
    new["spec"]["containers"][0]["command"] = ["sh"]
    (err,) = validate_update("", "Pod", new, old)
    assert err.field == "spec" and err.body().startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`")


def test_service_rules_and_immutable_cluster_ip() -> None:
    svc: Obj = {"metadata": {"name": "1web", "namespace": "ns"},
                "spec": {"type": "NodePort", "ports": [
                    {"port": 0, "protocol": "TCP"}, {"port": 80, "name": "http",
                                                     "protocol": "HTTP", "nodePort": 80}]}}
    assert messages("", "Service", svc) == [
        'metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case '
        "alphanumeric characters or '-', start with an alphabetic character, and end with an "
        "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
        "'[a-z]([-a-z0-9]*[a-z0-9])?')",
        "spec.ports[0].name: Required value",
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        'spec.ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", '
        '"UDP"',
    ]  # the nodePort's range is the allocator's (tests/e2e/test_services.py)
    old = {"metadata": {"name": "web"}, "spec": {"clusterIP": "10.96.0.5",
                                                 "clusterIPs": ["10.96.0.5"],
                                                 "ports": [{"port": 80, "protocol": "TCP"}]}}
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"] = "10.96.0.6"
    assert [str(e) for e in validate_update("", "Service", new, old)][-1] == \
        'spec.clusterIPs[0]: Invalid value: []string{"10.96.0.6"}: may not change once set'


def test_job_and_cronjob() -> None:
    job: Obj = {"metadata": {"name": "j", "namespace": "ns"},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    default(SCHEME.get("batch", "v1", "jobs"), job)
    errs = messages("batch", "Job", job)
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Always": supported ' \
           'values: "OnFailure", "Never"' in errs
    cj: Obj = {"metadata": {"name": "c" * 53, "namespace": "ns"},
               "spec": {"schedule": "every minute", "jobTemplate": {"spec": {"template": {
                   "spec": {"restartPolicy": "Never",
                            "containers": [{"name": "c", "image": "x"}]}}}}}}
    default(SCHEME.get("batch", "v1", "cronjobs"), cj)
    assert messages("batch", "CronJob", cj) == [
        f'metadata.name: Invalid value: "{"c" * 53}": must be no more than 52 characters',
        'spec.schedule: Invalid value: "every minute": expected exactly 5 fields, found 2: '
        "every minute"]


def test_metadata_labels_annotations_finalizers() -> None:
    cm = {"metadata": {"name": "x", "labels": {"bad key": "v", "ok": "bad value!"},
                       "annotations": {"a/b/c": "x"}, "finalizers": ["custom"]}}
    errs = messages("", "ConfigMap", cm)
    assert errs[0].startswith('metadata.labels: Invalid value: "bad key": name part must '
                              "consist of alphanumeric characters")
    assert errs[1].startswith('metadata.labels: Invalid value: "bad value!": a valid label '
                              "must be an empty string")
    assert errs[2].startswith('metadata.annotations: Invalid value: "a/b/c": a qualified name')
    assert errs[3] == ('metadata.finalizers: Invalid value: "custom": name is neither a '
                       "standard finalizer name nor is it fully qualified")
    assert messages("", "ConfigMap", {"metadata": {}}) == [
        "metadata.name: Required value: name or generateName is required"]


def test_configmap_and_secret_keys() -> None:
    cm = {"metadata": {"name": "x"}, "data": {"bad/key": "1", "a": "1"},
          "binaryData": {"a": "MQ=="}}
    assert [e.field for e in validate("", "ConfigMap", cm)] == [
        "data[a]", "data[bad/key]", "binaryData[a]"]
    tls = {"metadata": {"name": "t"}, "type": "kubernetes.io/tls", "data": {}}
    assert messages("", "Secret", tls) == ["data[tls.crt]: Required value",
                                           "data[tls.key]: Required value"]
    old = {"metadata": {"name": "t"}, "type": "Opaque"}
    assert [str(e) for e in validate_update("", "Secret", tls, old)][-1] == \
        'type: Invalid value: "kubernetes.io/tls": field is immutable'


@pytest.mark.parametrize("kind,group", [("StatefulSet", "apps"), ("DaemonSet", "apps"),
                                        ("ReplicaSet", "apps")])
def test_other_workloads_need_matching_selectors(kind: str, group: str) -> None:
    obj = deployment()
    obj["kind"] = kind
    del obj["spec"]["strategy"], obj["spec"]["progressDeadlineSeconds"]
    obj["spec"]["selector"] = {}
    what = "deployment" if kind == "ReplicaSet" else kind.lower()
    assert any(e.endswith(f"empty selector is invalid for {what}")
               for e in messages(group, kind, obj))
