"""Port of test/e2e/apimachinery/chunking.go: paged LIST of 400 PodTemplates."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

from kubernetes import client
from kubernetes.client.rest import ApiException

from conformance.framework import Ctx, conformance

TOTAL = 400


def _create_templates(c: Ctx) -> None:
    """upstream's BeforeEach: 400 templates, 20 at a time, each retried up to 4 times."""
    def one(i: int) -> None:
        body = client.V1PodTemplate(
            metadata=client.V1ObjectMeta(name=f"template-{i:04d}"),
            template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
                containers=[client.V1Container(name="test", image="test2")])))
        for tries in range(4):
            try:
                c.core.create_namespaced_pod_template(c.ns, body)
                return
            except ApiException:
                if tries == 3:
                    raise
    with ThreadPoolExecutor(20) as pool:
        list(pool.map(one, range(TOTAL)))


@conformance("[sig-api-machinery] Servers with support for API chunking should return chunks "
             "of results for list calls [Conformance]", basename="chunking")
def chunks(c: Ctx) -> None:
    _create_templates(c)
    for _ in range(3):
        found, last_rv, token = 0, "", None
        while True:
            limit = random.randrange(TOTAL // 10) + 1
            kw = {"_continue": token} if token else {}
            page = c.core.list_namespaced_pod_template(c.ns, limit=limit, **kw)
            assert len(page.items) <= limit, f"{len(page.items)} items for limit {limit}"
            last_rv = last_rv or page.metadata.resource_version
            assert page.metadata.resource_version == last_rv, \
                f"page at rv {page.metadata.resource_version}, first page at {last_rv}"
            remaining = page.metadata.remaining_item_count
            if not page.metadata._continue:
                assert remaining is None, f"remainingItemCount {remaining} on the last page"
            else:
                assert remaining is not None, "remainingItemCount missing with a continue token"
                assert remaining + len(page.items) + found == TOTAL, \
                    f"remainingItemCount {remaining} + {len(page.items)} + {found} != {TOTAL}"
            for item in page.items:
                assert item.metadata.name == f"template-{found:04d}", item.metadata.name
                found += 1
            token = page.metadata._continue
            if not token:
                break
        assert found == TOTAL, f"found {found} of {TOTAL}"
    everything = c.core.list_namespaced_pod_template(c.ns, limit=TOTAL + 1)
    assert len(everything.items) == TOTAL, len(everything.items)
