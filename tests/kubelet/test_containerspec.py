"""The container spec as the Docker kubelet resolves it: upstream's entrypoint rules,
environment variables with fieldRef/resourceFieldRef and $(VAR) expansion, cgroup limits
and the labels that tie a container to its pod (pure functions, no engine)."""

from __future__ import annotations

from runtime.kubelet import cri
from runtime.kubelet.containerspec import (
    cgroup_limits,
    command_line,
    container_config,
    engine_name,
    environment,
    expand,
)

POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1",
                    "labels": {"app": "web"}, "annotations": {"a.b/c": "d"}},
       "spec": {"nodeName": "kapi-node-1", "serviceAccountName": "sa"}}


def test_expand_follows_upstream_rules() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)", env) == "1-two"
    assert expand("$(MISSING) stays", env) == "$(MISSING) stays"
    assert expand("$$(A) is escaped", env) == "$(A) is escaped"
    assert expand("cost: $5 $", env) == "cost: $5 $"


def test_command_and_args_against_the_image_entrypoint() -> None:
    assert command_line({}, {}) == (None, None)                      # image's own
    assert command_line({"args": ["-x"]}, {}) == (None, ["-x"])      # image entrypoint + args
    assert command_line({"command": ["sh"]}, {}) == (["sh"], [])     # image CMD dropped
    assert command_line({"command": ["echo"], "args": ["$(A)", "$(Z)"]}, {"A": "a"}) == \
        (["echo"], ["a", "$(Z)"])


def test_environment_values_field_refs_and_expansion() -> None:
    c = {"name": "c", "resources": {"limits": {"memory": "64Mi"}},
         "env": [{"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                 {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                 {"name": "APP", "valueFrom": {"fieldRef": {
                     "fieldPath": "metadata.labels['app']"}}},
                 {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                 {"name": "MEM", "valueFrom": {"resourceFieldRef": {
                     "resource": "limits.memory", "divisor": "1Mi"}}},
                 {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
                 {"name": "URL", "value": "http://$(IP):80/$(NAME)"},
                 {"name": "LATER", "value": "$(AFTER)"}, {"name": "AFTER", "value": "x"}]}
    env = environment(POD, c, pod_ip="172.17.0.9", host_ip="172.17.0.1",
                      node_allocatable={"cpu": "2"})
    assert env == {"NAME": "p", "IP": "172.17.0.9", "APP": "web", "NODE": "kapi-node-1",
                   "MEM": "64", "CPU": "2", "URL": "http://172.17.0.9:80/p",
                   "LATER": "$(AFTER)", "AFTER": "x"}


def test_cgroup_limits() -> None:
    c = {"resources": {"limits": {"memory": "128Mi", "cpu": "500m"},
                       "requests": {"cpu": "250m"}}}
    assert cgroup_limits(c) == (128 * 2**20, 50_000, 256)
    assert cgroup_limits({}) == (0, 0, 2)


def test_config_carries_the_pod_labels_and_attempt() -> None:
    cfg = container_config(POD, {"name": "c", "image": "busybox", "workingDir": "/tmp"},
                           node="kapi-node-1", attempt=3, init=True, pod_ip="", host_ip="")
    assert cfg.labels[cri.POD_UID] == "u-1" and cfg.labels[cri.CONTAINER_NAME] == "c"
    assert cfg.labels[cri.RESTART_COUNT] == "3" and cfg.labels[cri.INIT] == "true"
    assert cfg.labels[cri.NODE] == "kapi-node-1" and cfg.working_dir == "/tmp"
    assert engine_name(POD, "c", 3) == "k8s_c_p_ns_u-1_3"
