"""The Endpoints, EndpointSlice and mirroring controllers against a real API server,
the test playing the kubelet (pod IPs and Ready conditions written through the status
subresource); the 1,000-address cap on the pure plan."""

from __future__ import annotations

from typing import Any

from runtime.client.resources import ENDPOINTS, ENDPOINTSLICES, PODS, SERVICES
from runtime.controllers.endpoints import plan
from runtime.controllers.endpoints.controller import EndpointsController
from runtime.controllers.endpointslice.controller import (
    EndpointSliceController,
    EndpointSliceMirroringController,
)
from tests.controllers.workload_harness import Harness, caches_match, run, until

Obj = dict[str, Any]
GVRS = (SERVICES, PODS, ENDPOINTS, ENDPOINTSLICES)


def service(name: str, **spec: Any) -> Obj:
    spec.setdefault("selector", {"app": name})
    spec.setdefault("ports", [{"name": "http", "port": 80, "targetPort": "web"}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name,
                                                               "labels": {"tier": "x"}},
            "spec": spec}


def pod(name: str, app: str, port: int = 8080, **meta: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": app}, **meta},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox",
                     "ports": [{"name": "web", "containerPort": port}]}]}}


async def play_kubelet(h: Harness, ns: str, name: str, ip: str, ready: bool) -> None:
    status = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}
    await h.client.patch(PODS, name, {"status": status}, ns, subresource="status")


async def settle_all(h: Harness, ns: str, name: str) -> None:
    for _ in range(4):
        await caches_match(h, ns, *GVRS)
        await h.reconcile(ns, name)


async def three_pods(h: Harness, ns: str) -> None:
    await h.client.create(SERVICES, service("web"), ns)
    for i, (ready, port) in enumerate([(True, 8080), (True, 9090), (False, 8080)]):
        await h.client.create(PODS, pod(f"web-{i}", "web", port), ns)
        await play_kubelet(h, ns, f"web-{i}", f"10.1.0.{i + 1}", ready)
    await h.client.create(PODS, pod("other", "db"), ns)
    await play_kubelet(h, ns, "other", "10.1.0.9", True)


def test_endpoints_group_pods_by_resolved_port_and_readiness(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, EndpointsController) as h:
            await three_pods(h, ns)
            await settle_all(h, ns, "web")
            got = await h.client.get(ENDPOINTS, "web", ns)
            assert got["metadata"]["labels"] == {"tier": "x"}
            subsets = got["subsets"]
            assert [s["ports"] for s in subsets] == [
                [{"name": "http", "port": 8080, "protocol": "TCP"}],
                [{"name": "http", "port": 9090, "protocol": "TCP"}]]
            assert [a["ip"] for a in subsets[0]["addresses"]] == ["10.1.0.1"]
            assert [a["ip"] for a in subsets[0]["notReadyAddresses"]] == ["10.1.0.3"]
            assert subsets[1]["addresses"][0]["targetRef"]["name"] == "web-1"
            assert subsets[1]["addresses"][0]["nodeName"] == "n1"
            # the not-ready pod turns ready: it moves over
            await play_kubelet(h, ns, "web-2", "10.1.0.3", True)
            await settle_all(h, ns, "web")
            got = await h.client.get(ENDPOINTS, "web", ns)
            assert [a["ip"] for a in got["subsets"][0]["addresses"]] == ["10.1.0.1", "10.1.0.3"]
            assert "notReadyAddresses" not in got["subsets"][0]
            await h.client.delete(SERVICES, "web", ns)
            await settle_all(h, ns, "web")
            assert not (await h.client.list(ENDPOINTS, ns))["items"]
    run(go())


def test_publish_not_ready_addresses_and_terminating_pods(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, EndpointsController) as h:
            await h.client.create(SERVICES, service("db", publishNotReadyAddresses=True,
                                                    clusterIP="None"), ns)
            await h.client.create(PODS, pod("db-0", "db", hostname="db-0"), ns)
            await h.client.patch(PODS, "db-0", {"spec": {}}, ns)
            await play_kubelet(h, ns, "db-0", "10.1.0.5", False)
            await settle_all(h, ns, "db")
            got = await h.client.get(ENDPOINTS, "db", ns)
            assert got["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
            assert [a["ip"] for a in got["subsets"][0]["addresses"]] == ["10.1.0.5"]
    run(go())


def test_slices_carry_conditions_labels_and_owner(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, EndpointSliceController) as h:
            await three_pods(h, ns)
            await h.client.patch(PODS, "web-0", {"metadata": {"finalizers": ["t/hold"]}}, ns)
            await h.client.delete(PODS, "web-0", ns)
            await settle_all(h, ns, "web")
            items = (await h.client.list(ENDPOINTSLICES, ns,
                                         labelSelector="kubernetes.io/service-name=web"))["items"]
            assert len(items) == 2
            s = items[0]
            md = s["metadata"]
            assert md["labels"]["endpointslice.kubernetes.io/managed-by"] == \
                "endpointslice-controller.k8s.io"
            assert md["labels"]["tier"] == "x"
            assert md["ownerReferences"][0]["kind"] == "Service"
            assert md["ownerReferences"][0]["controller"] is True
            conds = {e["addresses"][0]: e["conditions"] for s in items for e in s["endpoints"]}
            assert conds["10.1.0.1"] == {"ready": False, "serving": True, "terminating": True}
            assert conds["10.1.0.2"] == {"ready": True, "serving": True, "terminating": False}
            assert conds["10.1.0.3"] == {"ready": False, "serving": False, "terminating": False}
            ports = sorted(p["port"] for s in items for p in s["ports"])
            assert ports == [8080, 9090]
            await h.client.patch(PODS, "web-0", {"metadata": {"finalizers": None}}, ns)
            await h.client.delete(PODS, "web-0", ns, grace_period_seconds=0)
            await settle_all(h, ns, "web")
            items = (await h.client.list(ENDPOINTSLICES, ns))["items"]
            assert sorted(e["addresses"][0] for s in items for e in s["endpoints"]) == [
                "10.1.0.2", "10.1.0.3"]
    run(go())


def test_mirroring_copies_hand_written_endpoints(server, ns):
    async def go() -> None:
        async with Harness(server.kubeconfig, EndpointSliceMirroringController) as h:
            svc = service("ext")
            del svc["spec"]["selector"]
            await h.client.create(SERVICES, svc, ns)
            await h.client.create(ENDPOINTS, {
                "apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": "ext", "labels": {"team": "a"}},
                "subsets": [{"addresses": [{"ip": "10.2.0.1"}],
                             "notReadyAddresses": [{"ip": "10.2.0.2"}],
                             "ports": [{"name": "http", "port": 8080}]}]}, ns)
            await settle_all(h, ns, "ext")
            items = (await h.client.list(ENDPOINTSLICES, ns))["items"]
            assert len(items) == 1
            md = items[0]["metadata"]
            assert md["labels"] == {"team": "a", "kubernetes.io/service-name": "ext",
                                    "endpointslice.kubernetes.io/managed-by":
                                        "endpointslicemirroring-controller.k8s.io"}
            assert md["ownerReferences"][0]["kind"] == "Endpoints"
            assert [(e["addresses"], e["conditions"]) for e in items[0]["endpoints"]] == [
                (["10.2.0.1"], {"ready": True}), (["10.2.0.2"], {"ready": False})]
            assert items[0]["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
            await h.client.delete(ENDPOINTS, "ext", ns)
            await settle_all(h, ns, "ext")
            await until(lambda: not h.informers.get(ENDPOINTSLICES).list(ns), what="gone")
    run(go())


def test_endpoints_cap_at_1000_addresses_with_annotation():
    svc = service("big")
    svc["metadata"]["namespace"] = "d"
    pods = []
    for i in range(1200):
        p = pod(f"p{i}", "big", namespace="d")
        p["status"] = {"phase": "Running", "podIP": f"10.3.{i // 250}.{i % 250}",
                       "conditions": [{"type": "Ready", "status": str(i < 700)}]}
        pods.append(p)
    got = plan.desired(svc, pods, None)
    assert got["metadata"]["annotations"] == {plan.OVER_CAPACITY: "truncated"}
    s = got["subsets"][0]
    assert (len(s["addresses"]), len(s["notReadyAddresses"])) == (700, 300)
    small = plan.desired(svc, pods[:10], {"metadata": {"annotations": {
        plan.OVER_CAPACITY: "truncated"}}})
    assert "annotations" not in small["metadata"]


def test_kubernetes_service_endpoints_point_at_the_real_port(server):
    async def go() -> None:
        async with Harness(server.kubeconfig, EndpointsController) as h:
            port = int(server.url.rsplit(":", 1)[1])
            svc = await h.client.get(SERVICES, "kubernetes", "default")
            assert svc["spec"]["ports"][0]["targetPort"] == port
            ep = await h.client.get(ENDPOINTS, "kubernetes", "default")
            assert ep["subsets"] == [{"addresses": [{"ip": "127.0.0.1"}], "ports": [
                {"name": "https", "port": port, "protocol": "TCP"}]}]
            sl = await h.client.get(ENDPOINTSLICES, "kubernetes", "default")
            assert sl["endpoints"][0]["addresses"] == ["127.0.0.1"]
            assert sl["ports"][0]["port"] == port
    run(go())


def test_load_balancer_gets_ready_node_addresses():
    from runtime.controllers.servicelb.controller import ingress

    def node(ip: str, ready: str) -> Obj:
        return {"status": {"addresses": [{"type": "InternalIP", "address": ip}],
                           "conditions": [{"type": "Ready", "status": ready}]}}
    nodes = [node("172.17.0.3", "True"), node("172.17.0.2", "True"), node("172.17.0.4", "False")]
    lb = service("lb", type="LoadBalancer")
    assert ingress(lb, nodes) == [{"ip": "172.17.0.2", "ipMode": "VIP"},
                                  {"ip": "172.17.0.3", "ipMode": "VIP"}]
    assert ingress(service("cip"), nodes) == []
    assert ingress(service("other", type="LoadBalancer", loadBalancerClass="x/y"), nodes) == []
