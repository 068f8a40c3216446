"""Port of the API-operations tests of test/e2e/apimachinery/flowcontrol.go (FlowSchema
and PriorityLevelConfiguration CRUD, watch and /status). The request-classification
tests of that file are not conformance tests."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any, Callable

from kubernetes import client

from conformance.framework import Ctx, conformance
from conformance.ports.api_groups import (
    annotate_and_watch,
    calls_of,
    check_discovery,
    condition,
    delete_then_collection,
    rv_newer,
)
from conformance.ports.apimachinery_discovery import get_json
from conformance.ports.apps_common import retry_on_conflict

GROUP = "flowcontrol.apiserver.k8s.io"
APF = "[sig-api-machinery] API priority and fairness "


@dataclass(frozen=True)
class Kind:
    """What the two tests do differently: the kind, its template and spec changes."""

    kind: str          # "FlowSchema"
    snake: str         # "flow_schema"
    resource: str      # "flowschemas"
    label: str         # "fs"
    template: Callable[[dict[str, str]], Any]
    spec_patch: dict[str, Any]
    patched: Callable[[Any], Any]     # the field the patch set, read back
    patched_value: Any
    set_update: Callable[[Any], None]
    updated_value: Any
    condition_model: Any


def _api_operations(c: Ctx, k: Kind) -> None:
    check_discovery(c, GROUP, "v1", k.resource, k.resource + "/status")
    api = client.FlowcontrolApiserverV1Api(c.api)
    calls = calls_of(api, k.snake, f"V1{k.kind}")
    key = f"example-e2e-{k.label}-label"
    value = "".join(random.choices(string.ascii_lowercase + string.digits, k=8))
    selector = f"{key}={value}"
    try:
        for _ in range(3):
            created = getattr(api, f"create_{k.snake}")(k.template({key: value}))
        name = created.metadata.name
        read = calls.read(name)
        assert read.metadata.uid == created.metadata.uid and read.metadata.resource_version
        listed = calls.list(label_selector=selector)
        assert len(listed.items) == 3, "filtered list should have 3 items"
        w = calls.watch(c, label_selector=selector,
                        resource_version=listed.metadata.resource_version)
        patched, updated = annotate_and_watch(calls, name, w, k.spec_patch, k.set_update)
        assert k.patched(patched) == k.patched_value, "patched object should have the spec"
        assert rv_newer(created, patched), "patched object should have a larger resource version"
        assert k.patched(updated) == k.updated_value, "updated object should have the spec"
        _status_ops(c, api, k, name, created.metadata.uid)
        delete_then_collection(calls, name, label_selector=selector)
    finally:
        calls.delete_collection(label_selector=selector)


def _status_ops(c: Ctx, api: Any, k: Kind, name: str, uid: str) -> None:
    got = get_json(c, f"/apis/{GROUP}/v1/{k.resource}/{name}/status")
    assert (got["apiVersion"], got["kind"]) == (f"{GROUP}/v1", k.kind), got.get("kind")
    assert got["metadata"]["uid"] == uid
    patched = getattr(api, f"patch_{k.snake}_status")(name, {"status": {"conditions": [
        {"type": "PatchStatusFailed", "status": "False", "reason": "e2e"}]}})
    assert condition(patched, "PatchStatusFailed") is not None

    def update() -> Any:
        obj = getattr(api, f"read_{k.snake}")(name)
        obj.status.conditions = (obj.status.conditions or []) + [k.condition_model(
            type="StatusUpdateFailed", status="False", reason="E2E",
            message="Set from an e2e test")]
        return getattr(api, f"replace_{k.snake}_status")(name, obj)
    assert condition(retry_on_conflict(update), "StatusUpdateFailed") is not None


def _flow_schema(labels: dict[str, str]) -> client.V1FlowSchema:
    return client.V1FlowSchema(
        metadata=client.V1ObjectMeta(generate_name="e2e-example-fs-", labels=labels),
        spec=client.V1FlowSchemaSpec(
            matching_precedence=10000,
            priority_level_configuration=client.V1PriorityLevelConfigurationReference(
                name="global-default"),
            distinguisher_method=client.V1FlowDistinguisherMethod(type="ByUser"),
            rules=[client.V1PolicyRulesWithSubjects(
                subjects=[client.FlowcontrolV1Subject(kind="User", user=client.V1UserSubject(
                    name="example-e2e-non-existent-user"))],
                non_resource_rules=[client.V1NonResourcePolicyRule(
                    verbs=["*"], non_resource_urls=["*"])])]))


def _priority_level(labels: dict[str, str]) -> client.V1PriorityLevelConfiguration:
    return client.V1PriorityLevelConfiguration(
        metadata=client.V1ObjectMeta(generate_name="e2e-example-pl-", labels=labels),
        spec=client.V1PriorityLevelConfigurationSpec(
            type="Limited", limited=client.V1LimitedPriorityLevelConfiguration(
                nominal_concurrency_shares=2,
                limit_response=client.V1LimitResponse(type="Reject"))))


def _set_precedence(fs: Any) -> None:
    fs.spec.matching_precedence = 9000


def _set_shares(pl: Any) -> None:
    pl.spec.limited.nominal_concurrency_shares = 6


@conformance(APF + "should support FlowSchema API operations [Conformance]", basename="apf")
def flow_schema_api(c: Ctx) -> None:
    _api_operations(c, Kind(
        "FlowSchema", "flow_schema", "flowschemas", "fs", _flow_schema,
        {"spec": {"matchingPrecedence": 9999}}, lambda o: o.spec.matching_precedence, 9999,
        _set_precedence, 9000, client.V1FlowSchemaCondition))


@conformance(APF + "should support PriorityLevelConfiguration API operations [Conformance]",
             basename="apf")
def priority_level_api(c: Ctx) -> None:
    _api_operations(c, Kind(
        "PriorityLevelConfiguration", "priority_level_configuration",
        "prioritylevelconfigurations", "pl", _priority_level,
        {"spec": {"limited": {"nominalConcurrencyShares": 4}}},
        lambda o: o.spec.limited.nominal_concurrency_shares, 4, _set_shares, 6,
        client.V1PriorityLevelConfigurationCondition))
