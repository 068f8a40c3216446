"""Port of the PriorityClass endpoints test of test/e2e/scheduling/preemption.go: value
is immutable (patch and update refused), description is mutable, and the changes are
read back with a newer resourceVersion. The preemption tests of that file need
preemption, which the port leaves unported."""

from __future__ import annotations

import uuid

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_api_error
from conformance.ports.api_groups import rv_newer


@conformance("[sig-scheduling] SchedulerPreemption [Serial] PriorityClass endpoints verify "
             "PriorityClass endpoints can be operated with different HTTP methods "
             "[Conformance]", basename="sched-preemption-path")
def priority_class_endpoints(c: Ctx) -> None:
    api, test_uuid = client.SchedulingV1Api(c.api), str(uuid.uuid4())
    pcs = []
    try:
        for i in (1, 2):  # BeforeEach: p1 and p2 (an existing one is tolerated, as upstream)
            pc = client.V1PriorityClass(metadata=client.V1ObjectMeta(
                name=f"p{i}", labels={"e2e": test_uuid}), value=i)
            try:
                pcs.append(api.create_priority_class(pc))
            except client.ApiException as e:
                assert e.status == 409, f"expected 'alreadyExists' as error, got {e.status}"
                pcs.append(api.read_priority_class(f"p{i}"))
        # 1. changing value is refused, by a patch and by an update
        expect_api_error(lambda: api.patch_priority_class(pcs[0].metadata.name, {
            "value": pcs[0].value * 10}))
        changed = pcs[1].model_copy(deep=True)
        changed.value = changed.value * 10
        expect_api_error(lambda: api.replace_priority_class(changed.metadata.name, changed))
        # 2. changing description succeeds, by a patch and by an update
        desc = "updated description"
        api.patch_priority_class(pcs[0].metadata.name, {"description": desc})
        changed = pcs[1].model_copy(deep=True)
        changed.description = desc
        api.replace_priority_class(changed.metadata.name, changed)
        api.list_priority_class()
        for pc in pcs:
            live = api.read_priority_class(pc.metadata.name)
            assert live.value == pc.value
            assert live.description == desc
            assert live.metadata.resource_version, "should have a valid resource version"
            assert rv_newer(pc, live), "changed object should have a larger resource version"
    finally:  # AfterEach
        api.delete_collection_priority_class(label_selector=f"e2e={test_uuid}")
