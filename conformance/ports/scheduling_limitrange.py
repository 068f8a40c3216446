"""Ports of the conformance tests of test/e2e/scheduling/limit_range.go: a LimitRange's
defaults are filled into pods that lack resources, pods outside min/max are refused,
changing or deleting the LimitRange changes later admissions; LimitRanges are listed
across namespaces by label, patched and deleted by collection."""

from __future__ import annotations

import time
import uuid
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.utils import parse_quantity

from conformance.framework import Ctx, conformance, expect_api_error, poll, rand_suffix
from conformance.ports.apps_common import PAUSE, SMP

LR = "LimitRange › "


def resources(cpu: str, memory: str, ephemeral: str) -> dict[str, str]:
    """upstream's getResourceList."""
    return {k: v for k, v in (("cpu", cpu), ("memory", memory),
                              ("ephemeral-storage", ephemeral)) if v}


def limit_range(name: str, labels: dict[str, str]) -> client.V1LimitRange:
    return client.V1LimitRange(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1LimitRangeSpec(limits=[client.V1LimitRangeItem(
            type="Container", min=resources("50m", "100Mi", "100Gi"),
            max=resources("500m", "500Mi", "500Gi"),
            default=resources("500m", "500Mi", "500Gi"),
            default_request=resources("100m", "200Mi", "200Gi"), max_limit_request_ratio={})]))


def test_pod(name: str, requests: dict[str, str], limits: dict[str, str]) -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name), spec=client.V1PodSpec(
        containers=[client.V1Container(name="pause", image=PAUSE,
                                       resources=client.V1ResourceRequirements(
                                           requests=requests, limits=limits))]))


def same(expected: dict[str, str] | None, actual: dict[str, str] | None) -> bool:
    """upstream's equalResourceList: the same names with equal quantities."""
    expected, actual = expected or {}, actual or {}
    return expected.keys() == actual.keys() and all(
        parse_quantity(expected[k]) == parse_quantity(actual[k]) for k in expected)


def has_requirements(pod: Any, requests: dict[str, str], limits: dict[str, str]) -> None:
    for ctr in pod.spec.containers:
        got = ctr.resources
        assert same(requests, got.requests) and same(limits, got.limits), \
            f"expected requests {requests} limits {limits}, actual {got}"


@conformance(LR + "create a LimitRange with defaults and ensure pod has those defaults applied",
             basename="limitrange")
def defaults_applied(c: Ctx) -> None:
    value = f"{time.time_ns() % 10**9}{uuid.uuid4()}"
    selector = f"time={value}"
    assert not c.core.list_namespaced_limit_range(c.ns, label_selector=selector).items
    c.core.create_namespaced_limit_range(c.ns, limit_range("limit-range", {"time": value}))
    poll(lambda: c.core.list_namespaced_limit_range(c.ns, label_selector=selector).items, 30,
         "the LimitRange creation to be observed")
    lr = c.core.read_namespaced_limit_range("limit-range", c.ns)
    default_request = resources("100m", "200Mi", "200Gi")
    default_limit = resources("500m", "500Mi", "500Gi")
    assert same(default_request, lr.spec.limits[0].default_request)
    assert same(default_limit, lr.spec.limits[0].default)
    c.core.create_namespaced_pod(c.ns, test_pod("pod-no-resources", {}, {}))
    has_requirements(c.core.read_namespaced_pod("pod-no-resources", c.ns), default_request,
                     default_limit)
    c.core.create_namespaced_pod(c.ns, test_pod("pod-partial-resources",
                                                resources("", "150Mi", "150Gi"),
                                                resources("300m", "", "")))
    # a limit with no request makes the request equal the limit, before the defaults
    has_requirements(c.core.read_namespaced_pod("pod-partial-resources", c.ns),
                     resources("300m", "150Mi", "150Gi"), resources("300m", "500Mi", "500Gi"))
    too_small = test_pod("pfpod", resources("10m", "50Mi", "50Gi"), {})
    too_big = test_pod("pfpod", resources("600m", "600Mi", "600Gi"), {})
    expect_api_error(lambda: c.core.create_namespaced_pod(c.ns, too_small))
    expect_api_error(lambda: c.core.create_namespaced_pod(c.ns, too_big))
    new_min = resources("9m", "49Mi", "49Gi")
    lr.spec.limits[0].min = new_min
    c.core.replace_namespaced_limit_range("limit-range", c.ns, lr)
    poll(lambda: same(new_min, c.core.read_namespaced_limit_range("limit-range", c.ns)
                      .spec.limits[0].min), 20, "the LimitRange update", 2)
    c.core.create_namespaced_pod(c.ns, too_small)
    expect_api_error(lambda: c.core.create_namespaced_pod(c.ns, too_big))
    c.core.delete_namespaced_limit_range("limit-range", c.ns, grace_period_seconds=30)
    poll(lambda: not c.core.list_namespaced_limit_range(c.ns).items, 60,
         "the LimitRange to be deleted", 5)
    too_big.metadata.name = "pfpod2"

    def created() -> bool:
        try:
            c.core.create_namespaced_pod(c.ns, too_big)
            return True
        except ApiException:
            return False
    poll(created, 30, "a pod past the former max to be admitted", 5)


@conformance(LR + "list, patch and delete a LimitRange by collection", basename="limitrange")
def list_patch_delete(c: Ctx) -> None:
    name = f"e2e-limitrange-{rand_suffix()}"
    selector, patched_selector = f"e2e-test={name}", f"{name}=patched"
    labels = {"e2e-test": name, name: "created"}
    created = c.core.create_namespaced_limit_range(c.ns, limit_range(name, labels))
    other = c.create_namespace(name)
    c.core.create_namespaced_limit_range(other, limit_range(name, labels))
    assert len(c.core.list_limit_range_for_all_namespaces(label_selector=selector).items) == 2
    new_min = resources("9m", "49Mi", "49Gi")
    limits = c.api.sanitize_for_serialization(created.spec.limits)
    limits[0]["min"] = new_min
    patched = c.core.patch_namespaced_limit_range(name, c.ns, {
        "metadata": {"labels": {name: "patched"}}, "spec": {"limits": limits}},
        _content_type=SMP)
    assert patched.metadata.labels[name] == "patched"
    assert same(new_min, patched.spec.limits[0].min), \
        f"LimitRange does not have the correct min limitRange. Currently is {patched.spec.limits[0].min}"
    c.core.delete_collection_namespaced_limit_range(c.ns, label_selector=patched_selector)
    poll(lambda: not c.core.list_namespaced_limit_range(c.ns, label_selector=patched_selector)
         .items, 10, "the patched LimitRange to be deleted", 1)
    assert len(c.core.list_limit_range_for_all_namespaces(label_selector=selector).items) == 1
