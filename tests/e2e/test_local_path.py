"""The local-path provisioner (runtime/controllers/localpath) on the shared `kapi up`
cluster's simulated nodes: the default StorageClass exists; a StatefulSet's
volumeClaimTemplates give each pod a claim that turns Bound to a PersistentVolume of its
own, a hostPath directory with node affinity to the node the pod runs on; claims
without a consumer, or asking for no class, stay Pending."""

from __future__ import annotations

from typing import Any

from kubernetes import client as k8s

from tests.conftest import Server
from tests.helpers import api_for, wait_for

Obj = dict[str, Any]


def _sts(name: str, replicas: int) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": name,
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "containers": [{"name": "c", "image": "busybox", "volumeMounts": [
                             {"name": "data", "mountPath": "/data"}]}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                         "accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "64Mi"}}}}]}}


def test_statefulset_claims_bind_to_node_local_volumes(cluster: Server) -> None:
    with api_for(cluster.kubeconfig) as api:
        core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
        sc = k8s.StorageV1Api(api).read_storage_class("local-path")
        assert sc.metadata.annotations["storageclass.kubernetes.io/is-default-class"] == "true"
        assert sc.volume_binding_mode == "WaitForFirstConsumer"
        ns = "local-path"
        core.create_namespace({"metadata": {"name": ns}})
        try:
            apps.create_namespaced_stateful_set(ns, _sts("web", 2))

            def bound() -> list[Any] | None:
                claims = core.list_namespaced_persistent_volume_claim(ns).items
                ok = [c for c in claims if c.status.phase == "Bound"]
                return ok if len(ok) == 2 else None
            claims = wait_for(bound, "both claims to be Bound", timeout=60)
            assert sorted(c.metadata.name for c in claims) == ["data-web-0", "data-web-1"]
            for claim in claims:
                assert claim.spec.storage_class_name == "local-path"
                assert claim.status.capacity == {"storage": "64Mi"}
                pv = core.read_persistent_volume(claim.spec.volume_name)
                assert pv.status.phase == "Bound"
                assert pv.spec.claim_ref.name == claim.metadata.name
                assert pv.spec.claim_ref.uid == claim.metadata.uid
                assert pv.spec.host_path.type == "DirectoryOrCreate"
                pod = core.read_namespaced_pod(claim.metadata.name.removeprefix("data-"), ns)
                term = pv.spec.node_affinity.required.node_selector_terms[0]
                assert term.match_expressions[0].values == [pod.spec.node_name]
                assert claim.metadata.annotations[
                    "volume.kubernetes.io/selected-node"] == pod.spec.node_name

            for name, spec in (("unused", {}), ("noclass", {"storageClassName": ""})):
                core.create_namespaced_persistent_volume_claim(ns, {
                    "metadata": {"name": name}, "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Mi"}}, **spec}})
            core.create_namespaced_pod(ns, {"metadata": {"name": "uses-noclass"}, "spec": {
                "containers": [{"name": "c", "image": "busybox"}],
                "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "noclass"}}]}})
            wait_for(lambda: core.read_namespaced_pod("uses-noclass", ns).spec.node_name,
                     "the pod to be scheduled", timeout=30)
            for name in ("unused", "noclass"):
                assert core.read_namespaced_persistent_volume_claim(name, ns).status.phase \
                    == "Pending"
        finally:
            core.delete_namespace(ns)
