"""Port of test/e2e/node/node_lifecycle.go (Node Lifecycle): a Node object with no
kubelet behind it, through the API only. The node is removed even when the test fails
(a cluster-scoped object outlives the test's namespace)."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from conformance.framework import Ctx, conformance, is_not_found, poll, rand_suffix
from conformance.ports.apps_common import SMP, retry_on_conflict


@conformance("Node Lifecycle › run through the lifecycle of a node", basename="fake-node")
def node_lifecycle(c: Ctx) -> None:
    name = "e2e-fake-node-" + rand_suffix()
    # Ready but unschedulable: the scheduler never picks it
    created = c.core.create_node(client.V1Node(
        metadata=client.V1ObjectMeta(name=name), spec=client.V1NodeSpec(unschedulable=True),
        status=client.V1NodeStatus(phase="Running", conditions=[client.V1NodeCondition(
            type="Ready", status="True", reason="E2E", message="Set from e2e test")])))
    try:
        _walk(c, name, created)
    finally:
        try:
            c.core.delete_node(name)
        except ApiException as e:
            if e.status != 404:
                raise


def _walk(c: Ctx, name: str, created: Any) -> None:
    assert created.metadata.name == name, "Checking that the node has been created"
    assert c.core.read_node(name).metadata.name == name, "Checking that the retrieved name has been found"
    patched = c.core.patch_node(name, {"metadata": {"labels": {name: "patched"}}}, _content_type=SMP)
    assert (patched.metadata.labels or {}).get(name) == "patched", "Checking that patched label has been applied"
    nodes = c.core.list_node(label_selector=f"{name}=patched").items
    assert len(nodes) == 1, f"confirm that the patched node has been found: {len(nodes)} found"

    def relabel() -> Any:
        node = c.core.read_node(name)
        node.metadata.labels[name] = "updated"
        return c.core.replace_node(name, node)
    updated = retry_on_conflict(relabel)
    assert updated.metadata.labels.get(name) == "updated", "Checking that updated label has been applied"
    c.core.delete_node(name)
    poll(lambda: is_not_found(lambda: c.core.read_node(name)), 180,
         f"Node {name} to be deleted", 5)
