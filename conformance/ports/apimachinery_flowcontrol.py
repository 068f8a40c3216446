"""Port of the API-operations tests of test/e2e/apimachinery/flowcontrol.go (FlowSchema
and PriorityLevelConfiguration CRUD, watch and /status). The request-classification
tests of that file are not conformance tests."""

from __future__ import annotations

import random
import string
from typing import Any, Callable

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_api_error
from conformance.ports.api_groups import (
    annotations,
    check_discovery,
    condition,
    expect_patched_modified,
    flowcontrol,
    rv_newer,
)
from conformance.ports.apimachinery_discovery import get_json
from conformance.ports.apps_common import retry_on_conflict
from conformance.watching import Watch

GROUP = "flowcontrol.apiserver.k8s.io"
APF = "[sig-api-machinery] API priority and fairness "


def _label(prefix: str) -> tuple[str, str]:
    value = "".join(random.choices(string.ascii_lowercase + string.digits, k=8))
    return f"example-e2e-{prefix}-label", value


def _status_ops(c: Ctx, path: str, name: str, uid: str, kind: str, patch_status: Callable[..., Any],
                read: Callable[..., Any], replace_status: Callable[..., Any],
                condition_model: Callable[..., Any]) -> None:
    got = get_json(c, f"{path}/{name}/status")
    assert (got["apiVersion"], got["kind"]) == (f"{GROUP}/v1", kind), got.get("kind")
    assert got["metadata"]["uid"] == uid
    patched = patch_status(name, {"status": {"conditions": [
        {"type": "PatchStatusFailed", "status": "False", "reason": "e2e"}]}})
    assert condition(patched, "PatchStatusFailed") is not None

    def update() -> Any:
        obj = read(name)
        obj.status.conditions = (obj.status.conditions or []) + [condition_model(
            type="StatusUpdateFailed", status="False", reason="E2E",
            message="Set from an e2e test")]
        return replace_status(name, obj)
    assert condition(retry_on_conflict(update), "StatusUpdateFailed") is not None


def _delete_ops(name: str, read: Callable[..., Any], delete: Callable[..., Any],
                listed: Callable[[], list[Any]], delete_collection: Callable[[], Any]) -> None:
    delete(name)
    expect_api_error(lambda: read(name), 404)
    assert len(listed()) == 2, "filtered list should have 2 items"
    delete_collection()
    assert not listed(), "filtered list should have 0 items"


@conformance(APF + "should support FlowSchema API operations [Conformance]", basename="apf")
def flow_schema_api(c: Ctx) -> None:
    check_discovery(c, GROUP, "v1", "flowschemas", "flowschemas/status")
    api = flowcontrol(c)
    key, value = _label("fs")
    selector = f"{key}={value}"
    template = client.V1FlowSchema(
        metadata=client.V1ObjectMeta(generate_name="e2e-example-fs-", labels={key: value}),
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
    try:
        api.create_flow_schema(template)
        api.create_flow_schema(template)
        created = api.create_flow_schema(template)
        name = created.metadata.name
        read = api.read_flow_schema(name)
        assert read.metadata.uid == created.metadata.uid and read.metadata.resource_version
        listed = api.list_flow_schema(label_selector=selector)
        assert len(listed.items) == 3, "filtered list should have 3 items"
        w = Watch(c.api, api.list_flow_schema, "V1FlowSchema", label_selector=selector,
                  resource_version=listed.metadata.resource_version)
        try:
            patched = api.patch_flow_schema(name, {"metadata": {"annotations": {
                "patched": "true"}}, "spec": {"matchingPrecedence": 9999}})
            assert annotations(patched).get("patched") == "true"
            assert patched.spec.matching_precedence == 9999
            assert rv_newer(created, patched), \
                "patched object should have a larger resource version"

            def update() -> Any:
                fs = api.read_flow_schema(name)
                fs.metadata.annotations["updated"] = "true"
                fs.spec.matching_precedence = 9000
                return api.replace_flow_schema(name, fs)
            updated = retry_on_conflict(update)
            assert annotations(updated).get("updated") == "true"
            assert updated.spec.matching_precedence == 9000
            expect_patched_modified(w)
        finally:
            w.stop()
        _status_ops(c, f"/apis/{GROUP}/v1/flowschemas", name, created.metadata.uid,
                    "FlowSchema", api.patch_flow_schema_status, api.read_flow_schema,
                    api.replace_flow_schema_status, client.V1FlowSchemaCondition)
        _delete_ops(name, api.read_flow_schema, api.delete_flow_schema,
                    lambda: api.list_flow_schema(label_selector=selector).items,
                    lambda: api.delete_collection_flow_schema(label_selector=selector))
    finally:
        api.delete_collection_flow_schema(label_selector=selector)


@conformance(APF + "should support PriorityLevelConfiguration API operations [Conformance]",
             basename="apf")
def priority_level_api(c: Ctx) -> None:
    check_discovery(c, GROUP, "v1", "prioritylevelconfigurations",
                    "prioritylevelconfigurations/status")
    api = flowcontrol(c)
    key, value = _label("pl")
    selector = f"{key}={value}"
    template = client.V1PriorityLevelConfiguration(
        metadata=client.V1ObjectMeta(generate_name="e2e-example-pl-", labels={key: value}),
        spec=client.V1PriorityLevelConfigurationSpec(
            type="Limited", limited=client.V1LimitedPriorityLevelConfiguration(
                nominal_concurrency_shares=2,
                limit_response=client.V1LimitResponse(type="Reject"))))
    try:
        api.create_priority_level_configuration(template)
        api.create_priority_level_configuration(template)
        created = api.create_priority_level_configuration(template)
        name = created.metadata.name
        read = api.read_priority_level_configuration(name)
        assert read.metadata.uid == created.metadata.uid and read.metadata.resource_version
        listed = api.list_priority_level_configuration(label_selector=selector)
        assert len(listed.items) == 3, "filtered list should have 3 items"
        w = Watch(c.api, api.list_priority_level_configuration, "V1PriorityLevelConfiguration",
                  label_selector=selector, resource_version=listed.metadata.resource_version)
        try:
            patched = api.patch_priority_level_configuration(name, {"metadata": {
                "annotations": {"patched": "true"}}, "spec": {"limited": {
                    "nominalConcurrencyShares": 4}}})
            assert annotations(patched).get("patched") == "true"
            assert patched.spec.limited.nominal_concurrency_shares == 4
            assert rv_newer(created, patched), \
                "patched object should have a larger resource version"

            def update() -> Any:
                pl = api.read_priority_level_configuration(name)
                pl.metadata.annotations["updated"] = "true"
                pl.spec.limited.nominal_concurrency_shares = 6
                return api.replace_priority_level_configuration(name, pl)
            updated = retry_on_conflict(update)
            assert annotations(updated).get("updated") == "true"
            assert updated.spec.limited.nominal_concurrency_shares == 6
            expect_patched_modified(w)
        finally:
            w.stop()
        _status_ops(c, f"/apis/{GROUP}/v1/prioritylevelconfigurations", name,
                    created.metadata.uid, "PriorityLevelConfiguration",
                    api.patch_priority_level_configuration_status,
                    api.read_priority_level_configuration,
                    api.replace_priority_level_configuration_status,
                    client.V1PriorityLevelConfigurationCondition)
        _delete_ops(name, api.read_priority_level_configuration,
                    api.delete_priority_level_configuration,
                    lambda: api.list_priority_level_configuration(label_selector=selector).items,
                    lambda: api.delete_collection_priority_level_configuration(
                        label_selector=selector))
    finally:
        api.delete_collection_priority_level_configuration(label_selector=selector)
