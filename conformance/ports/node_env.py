"""Ports of the environment tests of test/e2e/common/node/: configmap.go and secrets.go
(env and envFrom), downwardapi.go (fieldRef / resourceFieldRef env) and expansion.go
($(VAR) in env values, command and args). Each pod runs `env` (or echo) in busybox to
completion and its log must hold upstream's expected lines (TestContainerOutput[Regexp])."""

from __future__ import annotations

import base64
from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_container_output
from conformance.ports.node_common import BUSYBOX, simple_pod, uid

CM = "ConfigMap › "
S = "Secrets › "
D = "Downward API › "
V = "Variable Expansion › "
NEEDS = ("containers",)
# e2enetwork.RegexIPv4 / RegexIPv6
IPV4 = r"(?:\d+)\.(?:\d+)\.(?:\d+)\.(?:\d+)"
IPV6 = (r"(?:(?:(?:[0-9a-fA-F]{1,4}):){7}(?:[0-9a-fA-F]{1,4}))"
        r"|(?:(?:(?:[0-9a-fA-F]{1,4}):){0,6}(?::(?:[0-9a-fA-F]{1,4})){1,7})|::")
DATA = {"data-1": "value-1", "data-2": "value-2", "data-3": "value-3"}
PREFIXES = ["1-", "$_-", "ABC_", "#@!"]  # digit, special characters, upper case, symbols


def _env_pod(prefix: str, cname: str, **ctr: object) -> client.V1Pod:
    return simple_pod(f"{prefix}-{uid()}", [client.V1Container(
        name=cname, image=BUSYBOX, command=["sh", "-c", "env"], **ctr)])  # type: ignore[arg-type]


def _configmap(c: Ctx) -> str:
    name = f"configmap-test-{uid()}"
    c.core.create_namespaced_config_map(c.ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, namespace=c.ns), data=dict(DATA)))
    return name


def _secret(c: Ctx) -> str:
    """upstream's secretForTest: the values end in a newline."""
    name = f"secret-test-{uid()}"
    c.core.create_namespaced_secret(c.ns, client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, namespace=c.ns),
        data={k: base64.b64encode(f"{v}\n".encode()).decode() for k, v in DATA.items()}))
    return name


def _prefixed(prefixes: list[str]) -> list[str]:
    return [f"{p}{k}={v}" for p in prefixes for k, v in DATA.items()]


def _env_var(c: Ctx, secret: bool, pod_prefix: str, cname: str, var: str) -> None:
    """One key of the object as the environment variable `var`."""
    name = _secret(c) if secret else _configmap(c)
    source = client.V1EnvVarSource(
        secret_key_ref=client.V1SecretKeySelector(name=name, key="data-1")) if secret else \
        client.V1EnvVarSource(
            config_map_key_ref=client.V1ConfigMapKeySelector(name=name, key="data-1"))
    pod = _env_pod(pod_prefix, cname, env=[client.V1EnvVar(name=var, value_from=source)])
    expect_container_output(c, "consume secrets" if secret else "consume configMaps", pod, 0,
                            [f"{var}=value-1"])


def _env_from(c: Ctx, secret: bool, pod_prefix: str, prefixes: list[str]) -> None:
    """Every key of the object as an environment variable, once as it is and once behind
    each prefix."""
    name = _secret(c) if secret else _configmap(c)
    ref: dict[str, Any] = {"secret_ref": client.V1SecretEnvSource(name=name)} if secret else \
        {"config_map_ref": client.V1ConfigMapEnvSource(name=name)}
    pod = _env_pod(pod_prefix, "env-test", env_from=[
        client.V1EnvFromSource(**ref), *(client.V1EnvFromSource(prefix=p, **ref) for p in prefixes)])
    expect_container_output(c, "consume secrets" if secret else "consume configMaps", pod, 0,
                            _prefixed(["", *prefixes]))


@conformance(CM + "consumable via environment variable", basename="configmap", needs=NEEDS)
def configmap_env_var(c: Ctx) -> None:
    _env_var(c, False, "pod-configmaps", "env-test", "CONFIG_DATA_1")


@conformance(CM + "consumable via the environment", basename="configmap", needs=NEEDS)
def configmap_env_from(c: Ctx) -> None:
    _env_from(c, False, "pod-configmaps", ["p-"])


@conformance(CM + "consumable as environment variable names with various prefixes",
             basename="configmap", needs=NEEDS)
def configmap_env_prefixes(c: Ctx) -> None:
    _env_from(c, False, "pod-configmaps", PREFIXES)


@conformance(S + "consumable from pods in env vars", basename="secrets", needs=NEEDS)
def secret_env_var(c: Ctx) -> None:
    _env_var(c, True, "pod-secrets", "secret-env-test", "SECRET_DATA")


@conformance(S + "consumable via the environment", basename="secrets", needs=NEEDS)
def secret_env_from(c: Ctx) -> None:
    _env_from(c, True, "pod-configmaps", ["p-"])  # upstream's pod name


@conformance(S + "consumable as environment variable names with various prefixes",
             basename="secrets", needs=NEEDS)
def secret_env_prefixes(c: Ctx) -> None:
    _env_from(c, True, "pod-secret", PREFIXES)


# -- downwardapi.go -------------------------------------------------------------------
def _field(name: str, path: str) -> client.V1EnvVar:
    return client.V1EnvVar(name=name, value_from=client.V1EnvVarSource(
        field_ref=client.V1ObjectFieldSelector(api_version="v1", field_path=path)))


def _resource(name: str, res: str) -> client.V1EnvVar:
    return client.V1EnvVar(name=name, value_from=client.V1EnvVarSource(
        resource_field_ref=client.V1ResourceFieldSelector(resource=res)))


def _downward(c: Ctx, name: str, env: list[client.V1EnvVar], expected: list[str],
              resources: bool = True) -> None:
    """upstream's testDownwardAPI: requests 250m/32Mi, limits 1250m/64Mi."""
    res = client.V1ResourceRequirements(requests={"cpu": "250m", "memory": "32Mi"},
                                        limits={"cpu": "1250m", "memory": "64Mi"})
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"name": name}),
        spec=client.V1PodSpec(restart_policy="Never", containers=[client.V1Container(
            name="dapi-container", image=BUSYBOX, command=["sh", "-c", "env"], env=env,
            resources=res if resources else None)]))
    expect_container_output(c, "downward api env vars", pod, 0, expected, regexp=True)


@conformance(D + "pod name, namespace and IP address as env vars", basename="downward-api",
             needs=NEEDS)
def downward_name_ns_ip(c: Ctx) -> None:
    name = f"downward-api-{uid()}"
    env = [_field("POD_NAME", "metadata.name"), _field("POD_NAMESPACE", "metadata.namespace"),
           _field("POD_IP", "status.podIP")]
    _downward(c, name, env, [f"POD_NAME={name}", f"POD_NAMESPACE={c.ns}",
                             f"POD_IP={IPV4}|{IPV6}"])


@conformance(D + "host IP as an env var", basename="downward-api", needs=NEEDS)
def downward_host_ip(c: Ctx) -> None:
    _downward(c, f"downward-api-{uid()}", [_field("HOST_IP", "status.hostIP")],
              [f"HOST_IP={IPV4}|{IPV6}"])


@conformance(D + "hostIPs as an env var", basename="downward-api", needs=NEEDS)
def downward_host_ips(c: Ctx) -> None:
    # upstream's conformance test (v1.32) reads status.hostIP into HOST_IP, as here
    _downward(c, f"downward-api-{uid()}", [_field("HOST_IP", "status.hostIP")],
              [f"HOST_IP={IPV4}|{IPV6}"])


@conformance(D + "limits.cpu/memory and requests.cpu/memory as env vars", basename="downward-api",
             needs=NEEDS)
def downward_resources(c: Ctx) -> None:
    env = [_resource("CPU_LIMIT", "limits.cpu"), _resource("MEMORY_LIMIT", "limits.memory"),
           _resource("CPU_REQUEST", "requests.cpu"), _resource("MEMORY_REQUEST", "requests.memory")]
    _downward(c, f"downward-api-{uid()}", env, ["CPU_LIMIT=2", "MEMORY_LIMIT=67108864",
                                                "CPU_REQUEST=1", "MEMORY_REQUEST=33554432"])


@conformance(D + "default limits.cpu/memory from node allocatable", basename="downward-api",
             needs=NEEDS)
def downward_default_limits(c: Ctx) -> None:
    env = [_resource("CPU_LIMIT", "limits.cpu"), _resource("MEMORY_LIMIT", "limits.memory")]
    _downward(c, f"downward-api-{uid()}", env, ["CPU_LIMIT=[1-9]", "MEMORY_LIMIT=[1-9]"],
              resources=False)


@conformance(D + "pod UID as env vars", basename="downward-api", needs=NEEDS)
def downward_uid(c: Ctx) -> None:
    _downward(c, f"downward-api-{uid()}", [_field("POD_UID", "metadata.uid")],
              ["POD_UID=[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}"])


# -- expansion.go ---------------------------------------------------------------------
def _expansion_pod(command: list[str], env: list[client.V1EnvVar]) -> client.V1Pod:
    name = f"var-expansion-{uid()}"
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name, labels={"name": name}),
                        spec=client.V1PodSpec(restart_policy="Never", containers=[
                            client.V1Container(name="dapi-container", image=BUSYBOX,
                                               command=command, env=env)]))


@conformance(V + "composing env vars into new env vars", basename="var-expansion", needs=NEEDS)
def compose_env(c: Ctx) -> None:
    env = [client.V1EnvVar(name="FOO", value="foo-value"),
           client.V1EnvVar(name="BAR", value="bar-value"),
           client.V1EnvVar(name="FOOBAR", value="$(FOO);;$(BAR)")]
    expect_container_output(c, "env composition", _expansion_pod(["sh", "-c", "env"], env), 0,
                            ["FOO=foo-value", "BAR=bar-value", "FOOBAR=foo-value;;bar-value"])


@conformance(V + "substituting values in a container's command", basename="var-expansion",
             needs=NEEDS)
def expand_command(c: Ctx) -> None:
    pod = _expansion_pod(["sh", "-c", 'TEST_VAR=wrong echo "$(TEST_VAR)"'],
                         [client.V1EnvVar(name="TEST_VAR", value="test-value")])
    expect_container_output(c, "substitution in container's command", pod, 0, ["test-value"])


@conformance(V + "substituting values in a container's args", basename="var-expansion",
             needs=NEEDS)
def expand_args(c: Ctx) -> None:
    pod = _expansion_pod(["sh", "-c"], [client.V1EnvVar(name="TEST_VAR", value="test-value")])
    pod.spec.containers[0].args = ['TEST_VAR=wrong echo "$(TEST_VAR)"']
    expect_container_output(c, "substitution in container's args", pod, 0, ["test-value"])
