"""The pure parts of the Docker kubelet's pod spec handling: env from ConfigMaps, Secrets
and service links with upstream's precedence, securityContext settings and the
runAsNonRoot refusals, volume payloads (items, modes, downward API formats, missing
keys), the AtomicWriter layout on a real directory, the managed /etc/hosts, subPath
containment, and the node pressure conditions against upstream's thresholds."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from runtime.kubelet import atomicwriter, pressure
from runtime.kubelet.containerspec import environment, host_ports
from runtime.kubelet.envsources import ConfigError, Sources, referenced, service_env
from runtime.kubelet.podvolumes import binds, hosts_content
from runtime.kubelet.security import settings
from runtime.kubelet.volumes import MountError, payload

POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u-1",
                    "labels": {"b": "2", "a": 'x"y'}},
       "spec": {"nodeName": "n1", "serviceAccountName": "default"}}


def _svc(name: str, ns: str, ip: str, *ports: dict[str, object]) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": ip, "ports": list(ports)}}


def _secret(**data: str) -> dict[str, object]:
    return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def test_service_links_as_upstream_names_them() -> None:
    services = [_svc("my-db", "ns", "10.0.0.5", {"name": "sql", "port": 5432,
                                                  "protocol": "TCP"}, {"port": 53,
                                                                       "protocol": "UDP"}),
                _svc("kubernetes", "default", "10.0.0.1", {"name": "https", "port": 443}),
                _svc("headless", "ns", "None", {"port": 80}),
                _svc("elsewhere", "other", "10.0.0.9", {"port": 80})]
    env = service_env(services, "ns", enable_links=True)
    assert env["MY_DB_SERVICE_HOST"] == "10.0.0.5" and env["MY_DB_SERVICE_PORT"] == "5432"
    assert env["MY_DB_SERVICE_PORT_SQL"] == "5432"
    assert env["MY_DB_PORT"] == "tcp://10.0.0.5:5432"
    assert env["MY_DB_PORT_53_UDP"] == "udp://10.0.0.5:53"
    assert env["MY_DB_PORT_53_UDP_PROTO"] == "udp" and env["MY_DB_PORT_53_UDP_PORT"] == "53"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.0.0.1"
    assert not any(k.startswith(("HEADLESS", "ELSEWHERE")) for k in env)
    only_master = service_env(services, "ns", enable_links=False)
    assert set(only_master) == {k for k in env if k.startswith("KUBERNETES_")}


def test_env_precedence_env_from_then_env_then_services() -> None:
    sources = Sources(configmaps={"cm": {"data": {"A": "from-cm", "B": "b"}}},
                      secrets={"s": _secret(PASS="pw")},
                      services=[_svc("a", "ns", "10.0.0.7", {"port": 80})])
    c = {"name": "c", "envFrom": [{"configMapRef": {"name": "cm"}}],
         "env": [{"name": "A", "value": "mine-$(B)-$(A_SERVICE_HOST)"},
                 {"name": "P", "valueFrom": {"secretKeyRef": {"name": "s", "key": "PASS"}}},
                 {"name": "A_SERVICE_HOST", "value": "overridden"}]}
    env = environment(POD, c, pod_ip="", host_ip="", sources=sources)
    assert env["A"] == "mine-b-10.0.0.7" and env["P"] == "pw"
    assert env["A_SERVICE_HOST"] == "overridden" and env["A_PORT"] == "tcp://10.0.0.7:80"


def test_missing_references_raise_upstream_messages() -> None:
    c = {"name": "c", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {
        "name": "cm", "key": "nope"}}}]}
    with pytest.raises(ConfigError, match="^couldn't find key nope in ConfigMap ns/cm$"):
        environment(POD, c, pod_ip="", host_ip="",
                    sources=Sources(configmaps={"cm": {"data": {}}}))
    c = {"name": "c", "envFrom": [{"secretRef": {"name": "gone"}}]}
    with pytest.raises(ConfigError, match='^secret "gone" not found$'):
        environment(POD, c, pod_ip="", host_ip="", sources=Sources(secrets={"gone": None}))
    c["envFrom"][0]["secretRef"]["optional"] = True
    assert "gone" not in environment(POD, c, pod_ip="", host_ip="",
                                     sources=Sources(secrets={"gone": None}))


def test_referenced_names_cover_env_and_volumes() -> None:
    pod = {"spec": {"containers": [{"env": [{"valueFrom": {"configMapKeyRef": {
        "name": "a"}}}], "envFrom": [{"secretRef": {"name": "b"}}]}],
        "volumes": [{"secret": {"secretName": "c"}}, {"projected": {"sources": [
            {"configMap": {"name": "d"}}, {"secret": {"name": "e"}}]}}]}}
    assert referenced(pod) == ({"a", "d"}, {"b", "c", "e"})


def test_security_settings_and_non_root_refusals() -> None:
    pod = {"spec": {"securityContext": {"runAsUser": 1000, "fsGroup": 2000,
                                        "supplementalGroups": [5]}}}
    c = {"name": "c", "securityContext": {"runAsGroup": 3000, "privileged": False,
                                          "allowPrivilegeEscalation": False,
                                          "capabilities": {"add": ["NET_ADMIN"]}}}
    s = settings(pod, c, pod_ref="p_ns(u)", image_user="")
    assert (s.user, s.group_add, s.cap_add, s.no_new_privileges) == (
        "1000:3000", ["5", "2000"], ["NET_ADMIN"], True)
    root = {"name": "c", "securityContext": {"runAsNonRoot": True}}
    with pytest.raises(ConfigError, match=r"^container has runAsNonRoot and image will run "
                                          r'as root \(pod: "p_ns\(u\)", container: c\)$'):
        settings({}, root, pod_ref="p_ns(u)", image_user="")
    with pytest.raises(ConfigError, match="non-numeric user \\(nobody\\)"):
        settings({}, root, pod_ref="p_ns(u)", image_user="nobody")
    assert settings({}, root, pod_ref="p", image_user="1001").user == ""
    zero = {"name": "c", "securityContext": {"runAsNonRoot": True, "runAsUser": 0}}
    with pytest.raises(ConfigError, match="runAsUser breaks non-root policy"):
        settings({}, zero, pod_ref="p", image_user="1001")


def test_volume_payloads() -> None:
    sources = Sources(configmaps={"cm": {"data": {"a": "1", "b": "2"},
                                         "binaryData": {"bin": "AAE="}}},
                      secrets={"s": _secret(tok="t")})
    vol = {"configMap": {"name": "cm", "defaultMode": 0o600,
                         "items": [{"key": "a", "path": "dir/a.txt", "mode": 0o644}]}}
    assert payload(POD, vol, sources) == {"dir/a.txt": (b"1", 0o644)}
    assert payload(POD, {"configMap": {"name": "cm"}}, sources)["bin"] == (b"\x00\x01", 0o644)
    with pytest.raises(MountError, match="^configmap references non-existent config key: z$"):
        payload(POD, {"configMap": {"name": "cm", "items": [{"key": "z", "path": "z"}]}},
                sources)
    with pytest.raises(MountError, match='^secret "x" not found$'):
        payload(POD, {"secret": {"secretName": "x"}}, sources)
    assert payload(POD, {"secret": {"secretName": "x", "optional": True}}, sources) == {}
    down = {"downwardAPI": {"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}
    assert payload(POD, down, sources) == {"labels": (b'a="x\\"y"\nb="2"', 0o644),
                                          "ns": (b"ns", 0o644)}
    projected = {"projected": {"defaultMode": 0o440, "sources": [
        {"secret": {"name": "s"}}, {"configMap": {"name": "cm", "items": [
            {"key": "b", "path": "b"}]}}]}}
    assert payload(POD, projected, sources) == {"tok": (b"t", 0o440), "b": (b"2", 0o440)}


def test_atomic_writer_swaps_data_and_links(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert atomicwriter.write(target, {"a": (b"1", 0o644), "d/b": (b"2", 0o600)})
    first = os.readlink(target / "..data")
    assert first.startswith("..") and (target / "a").read_bytes() == b"1"
    assert os.readlink(target / "a") == "..data/a"
    assert (target / "d" / "b").stat().st_mode & 0o777 == 0o600
    assert not atomicwriter.write(target, {"a": (b"1", 0o644), "d/b": (b"2", 0o600)})
    assert atomicwriter.write(target, {"a": (b"new", 0o644)})
    assert os.readlink(target / "..data") != first and not (target / first).exists()
    assert (target / "a").read_bytes() == b"new" and not (target / "d").exists()
    with pytest.raises(ValueError):
        atomicwriter.write(target, {"../escape": (b"", 0o644)})


def test_managed_hosts_file() -> None:
    pod = {"metadata": {"name": "web", "namespace": "ns"},
           "spec": {"hostname": "h", "subdomain": "s",
                    "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["a", "b"]}]}}
    text = hosts_content(pod, "10.0.0.3", host_network=False)
    assert text.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert "10.0.0.3\th.s.ns.svc.cluster.local\th\n" in text
    assert text.endswith("\n# Entries added by HostAliases.\n1.2.3.4\ta\tb\n")
    plain = hosts_content({"metadata": {"name": "web"}, "spec": {}}, "10.0.0.3", False)
    assert plain.endswith("10.0.0.3\tweb\n")


def test_sub_paths_stay_inside_their_volume(tmp_path: Path) -> None:
    (tmp_path / "v").mkdir()
    paths = {"v": str(tmp_path / "v")}
    c = {"volumeMounts": [{"name": "v", "mountPath": "/x", "subPathExpr": "$(POD)/logs",
                           "readOnly": True}]}
    assert binds(c, paths, {"POD": "p1"}, set()) == [f"{tmp_path}/v/p1/logs:/x:ro"]
    assert (tmp_path / "v" / "p1" / "logs").is_dir()
    with pytest.raises(MountError, match="escapes volume"):
        binds({"volumeMounts": [{"name": "v", "mountPath": "/x", "subPath": "../.."}]},
              paths, {}, set())


def test_host_ports() -> None:
    pod = {"spec": {"containers": [{"ports": [
        {"containerPort": 80, "hostPort": 8080}, {"containerPort": 53, "protocol": "UDP",
                                                  "hostPort": 5353, "hostIP": "127.0.0.1"},
        {"containerPort": 9000}]}]}}
    assert host_ports(pod) == {"80/tcp": 8080, "53/udp": ("127.0.0.1", 5353)}


def test_pressure_conditions_follow_upstream_thresholds() -> None:
    calm = pressure.Figures(2 << 30, 0.5, 0.5, 0.5, 0.5)
    patch = pressure.conditions_patch(None, calm, "t0")
    got = {c["type"]: (c["status"], c["reason"]) for c in patch["status"]["conditions"]}
    assert got == {"MemoryPressure": ("False", "KubeletHasSufficientMemory"),
                   "DiskPressure": ("False", "KubeletHasNoDiskPressure"),
                   "PIDPressure": ("False", "KubeletHasSufficientPID"),
                   "Ready": ("True", "KubeletReady")}
    tight = pressure.Figures(99 << 20, 0.5, 0.5, 0.14, 0.5)
    node = {"status": patch["status"]}
    later = pressure.conditions_patch(node, tight, "t1")["status"]["conditions"]
    by_type = {c["type"]: c for c in later}
    assert by_type["MemoryPressure"]["status"] == "True"
    assert by_type["MemoryPressure"]["lastTransitionTime"] == "t1"
    assert by_type["DiskPressure"]["reason"] == "KubeletHasDiskPressure"
    assert by_type["Ready"]["lastTransitionTime"] == "t0"
