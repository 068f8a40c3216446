"""Ports of test/e2e/common/node/podtemplates.go: the PodTemplate API (create, read,
patch, delete, delete a collection). No container runs."""

from __future__ import annotations

from kubernetes import client

from conformance.framework import Ctx, conformance, poll
from conformance.ports.apps_common import AGNHOST, SMP
from conformance.ports.node_common import uid

PT = "PodTemplates › "
RETRY_PERIOD, RETRY_TIMEOUT = 1, 60     # podTemplateRetryPeriod, podTemplateRetryTimeout


def _template(name: str, labels: dict[str, str], cname: str, image: str) -> client.V1PodTemplate:
    return client.V1PodTemplate(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
            containers=[client.V1Container(name=cname, image=image)])))


@conformance(PT + "run the lifecycle of PodTemplates", basename="podtemplate")
def lifecycle(c: Ctx) -> None:
    name = f"nginx-pod-template-{uid()}"
    sel = "podtemplate-static=true"
    assert not c.core.list_pod_template_for_all_namespaces(label_selector=sel).items, \
        "unable to find templates"
    c.core.create_namespaced_pod_template(c.ns, _template(name, {"podtemplate-static": "true"},
                                                          "nginx", "nginx"))
    assert c.core.read_namespaced_pod_template(name, c.ns).metadata.name == name
    c.core.patch_namespaced_pod_template(name, c.ns, {"metadata": {"labels": {
        "podtemplate": "patched"}}}, _content_type=SMP)
    got = c.core.read_namespaced_pod_template(name, c.ns)
    assert got.metadata.labels.get("podtemplate") == "patched", \
        "failed to patch template, new label not found"
    c.core.delete_namespaced_pod_template(name, c.ns)
    assert not c.core.list_pod_template_for_all_namespaces(label_selector=sel).items, \
        "PodTemplate list returned items, failed to delete PodTemplate"


@conformance(PT + "delete a collection of pod templates", basename="podtemplate")
def delete_collection(c: Ctx) -> None:
    names = ["test-podtemplate-1", "test-podtemplate-2", "test-podtemplate-3"]
    for name in names:
        c.core.create_namespaced_pod_template(c.ns, _template(name, {"podtemplate-set": "true"},
                                                              "token-test", AGNHOST))
    sel = "podtemplate-set=true"
    listed = c.core.list_namespaced_pod_template(c.ns, label_selector=sel).items
    assert len(listed) == len(names), f"looking for {len(names)} pod templates, found {len(listed)}"
    c.core.delete_collection_namespaced_pod_template(c.ns, label_selector=sel)
    poll(lambda: not c.core.list_namespaced_pod_template(c.ns, label_selector=sel).items,
         RETRY_TIMEOUT, "no pod templates left", RETRY_PERIOD)
