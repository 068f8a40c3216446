"""Ports of the object-API tests of test/e2e/common/node/: configmap.go and secrets.go."""

from __future__ import annotations

import base64
import uuid

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_api_error
from conformance.ports.apps_common import SMP


@conformance("[sig-node] ConfigMap should fail to create ConfigMap with empty key [Conformance]",
             basename="configmap")
def configmap_empty_key(c: Ctx) -> None:
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(
        name=f"configmap-test-emptykey-{uuid.uuid4()}"), data={"": "value-1"})
    expect_api_error(lambda: c.core.create_namespaced_config_map(c.ns, cm))


@conformance("[sig-node] ConfigMap should update ConfigMap successfully [Conformance]",
             basename="configmap")
def configmap_update(c: Ctx) -> None:
    name = f"configmap-test-{uuid.uuid4()}"
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, namespace=c.ns),
                            data={"data-1": "value-1", "data-2": "value-2", "data-3": "value-3"})
    c.core.create_namespaced_config_map(c.ns, cm)
    cm.data = {"data": "value"}
    c.core.replace_namespaced_config_map(name, c.ns, cm)  # no resourceVersion: unconditional
    got = c.core.read_namespaced_config_map(name, c.ns)
    assert got.data == cm.data, f"{got.data} != {cm.data}"


@conformance("[sig-node] ConfigMap should run through a ConfigMap lifecycle [Conformance]",
             basename="configmap")
def configmap_lifecycle(c: Ctx) -> None:
    name = f"test-configmap{uuid.uuid4()}"
    c.core.create_namespaced_config_map(c.ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels={"test-configmap-static": "true"}),
        data={"valueName": "value"}))
    got = c.core.read_namespaced_config_map(name, c.ns)
    assert got.data["valueName"] == "value"
    assert got.metadata.labels["test-configmap-static"] == "true"
    c.core.patch_namespaced_config_map(name, c.ns, {
        "metadata": {"labels": {"test-configmap": "patched"}}, "data": {"valueName": "value1"}},
        _content_type=SMP)
    found = [x for x in c.core.list_config_map_for_all_namespaces(
        label_selector="test-configmap=patched").items
        if x.metadata.name == name and x.metadata.namespace == c.ns
        and x.metadata.labels.get("test-configmap-static") == "true"
        and x.metadata.labels.get("test-configmap") == "patched"
        and x.data.get("valueName") == "value1"]
    assert found, f"failed to find ConfigMap {c.ns}/{name} by label selector"
    c.core.delete_collection_namespaced_config_map(c.ns, label_selector="test-configmap-static=true")
    left = c.core.list_namespaced_config_map(c.ns, label_selector="test-configmap-static=true").items
    assert not left, "ConfigMap is still present after being deleted by collection"


@conformance("[sig-node] Secrets should fail to create secret due to empty secret key [Conformance]",
             basename="secrets")
def secret_empty_key(c: Ctx) -> None:
    s = client.V1Secret(metadata=client.V1ObjectMeta(name=f"secret-emptykey-test-{uuid.uuid4()}"),
                        data={"": base64.b64encode(b"value-1\n").decode()})
    expect_api_error(lambda: c.core.create_namespaced_secret(c.ns, s))


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


@conformance("[sig-node] Secrets should patch a secret [Conformance]", basename="secrets")
def secret_patch(c: Ctx) -> None:
    name = f"test-secret-{uuid.uuid4()}"
    c.core.create_namespaced_secret(c.ns, client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, labels={"testsecret-constant": "true"}),
        data={"key": _b64(b"value")}, type="Opaque"))

    def ours() -> list[client.V1Secret]:
        return [s for s in c.core.list_secret_for_all_namespaces(
            label_selector="testsecret-constant=true").items
            if s.metadata.name == name and s.metadata.namespace == c.ns]
    assert ours(), f"unable to find secret {c.ns}/{name} by name"
    # upstream marshals []byte(base64("value1")) as JSON: the bytes are base64-encoded again
    c.core.patch_namespaced_secret(name, c.ns, {
        "metadata": {"labels": {"testsecret": "true"}},
        "data": {"key": _b64(_b64(b"value1").encode())}}, _content_type=SMP)
    got = c.core.read_namespaced_secret(name, c.ns)
    decoded = base64.b64decode(base64.b64decode(got.data["key"]))
    assert decoded == b"value1", "found secret, but the data wasn't updated from the patch"
    c.core.delete_collection_namespaced_secret(c.ns, label_selector="testsecret=true")
    assert not ours(), f"secret {c.ns}/{name} was not deleted successfully"
