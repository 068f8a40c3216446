"""Port of test/e2e/common/node/podtemplates.go: the PodTemplate API."""

from __future__ import annotations

import random
import string
import uuid

from kubernetes import client

from conformance.framework import Ctx, conformance, poll
from conformance.ports.apps_common import SMP


def _template(name: str, container: str, labels: dict[str, str] | None = None
              ) -> client.V1PodTemplate:
    return client.V1PodTemplate(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
            containers=[client.V1Container(name=container, image="busybox")])))


@conformance("[sig-node] PodTemplates should run the lifecycle of PodTemplates [Conformance]",
             basename="podtemplate")
def lifecycle(c: Ctx) -> None:
    ns, name = c.ns, f"nginx-pod-template-{uuid.uuid4()}"
    static = "podtemplate-static=true"
    found = c.core.list_pod_template_for_all_namespaces(label_selector=static).items
    assert len(found) == 0, "unable to find templates"
    c.core.create_namespaced_pod_template(ns, _template(name, "nginx",
                                                         {"podtemplate-static": "true"}))
    assert c.core.read_namespaced_pod_template(name, ns).metadata.name == name
    c.core.patch_namespaced_pod_template(name, ns, {"metadata": {"labels": {
        "podtemplate": "patched"}}}, _content_type=SMP)
    read = c.core.read_namespaced_pod_template(name, ns)
    assert (read.metadata.labels or {}).get("podtemplate") == "patched", \
        "failed to patch template, new label not found"
    c.core.delete_namespaced_pod_template(name, ns)
    left = c.core.list_pod_template_for_all_namespaces(label_selector=static).items
    assert len(left) == 0, "PodTemplate list returned items, failed to delete PodTemplate"


@conformance("[sig-node] PodTemplates should delete a collection of pod templates [Conformance]",
             basename="podtemplate")
def delete_collection(c: Ctx) -> None:
    names = ["test-podtemplate-1", "test-podtemplate-2", "test-podtemplate-3"]
    for name in names:
        c.core.create_namespaced_pod_template(c.ns, _template(name, "token-test",
                                                               {"podtemplate-set": "true"}))
    selector = "podtemplate-set=true"
    listed = c.core.list_namespaced_pod_template(c.ns, label_selector=selector).items
    assert len(listed) == len(names), "looking for expected number of pod templates"
    c.core.delete_collection_namespaced_pod_template(c.ns, label_selector=selector)
    poll(lambda: not c.core.list_namespaced_pod_template(c.ns, label_selector=selector).items,
         60, "no pod templates left with the label", interval=1)


@conformance("[sig-node] PodTemplates should replace a pod template [Conformance]",
             basename="podtemplate")
def replace(c: Ctx) -> None:
    name = "podtemplate-" + "".join(random.choices(string.ascii_lowercase, k=5))
    c.core.create_namespaced_pod_template(c.ns, _template(name, "e2e-test"))
    pt = c.core.read_namespaced_pod_template(name, c.ns)
    pt.metadata.annotations = {"updated": "true"}
    updated = c.core.replace_namespaced_pod_template(name, c.ns, pt)
    assert (updated.metadata.annotations or {}).get("updated") == "true", \
        f"updated object should have the applied annotation, found {updated.metadata.annotations}"
