"""The official Python client against a real kapi server: CRUD, selectors, pagination,
watch (and resuming it), every patch type, delete with propagation, and the error
Status objects clients branch on."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException


def cm(name: str, labels: dict[str, str] | None = None, data: dict[str, str] | None = None):
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels),
                              data=data or {"k": "v"})


def deployment(name: str, replicas: int = 1, image: str = "busybox:latest"):
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[
                    client.V1Container(name="main", image=image)]))))


def test_configmap_crud(api_client, ns):
    core = client.CoreV1Api(api_client)
    created = core.create_namespaced_config_map(ns, cm("a", data={"x": "1"}))
    assert created.metadata.uid and created.metadata.creation_timestamp
    rv1 = int(created.metadata.resource_version)
    got = core.read_namespaced_config_map("a", ns)
    assert got.data == {"x": "1"} and got.metadata.uid == created.metadata.uid
    got.data["y"] = "2"
    updated = core.replace_namespaced_config_map("a", ns, got)
    assert int(updated.metadata.resource_version) > rv1
    assert updated.data == {"x": "1", "y": "2"}
    core.delete_namespaced_config_map("a", ns)
    with pytest.raises(ApiException) as e:
        core.read_namespaced_config_map("a", ns)
    assert e.value.status == 404
    assert '"reason":"NotFound"' in e.value.body.replace(" ", "")


def test_stale_update_conflicts(api_client, ns):
    core = client.CoreV1Api(api_client)
    first = core.create_namespaced_config_map(ns, cm("c"))
    core.patch_namespaced_config_map("c", ns, {"data": {"k": "changed"}})
    first.data = {"k": "mine"}
    with pytest.raises(ApiException) as e:
        core.replace_namespaced_config_map("c", ns, first)
    assert e.value.status == 409
    assert "the object has been modified" in e.value.body
    assert core.read_namespaced_config_map("c", ns).data == {"k": "changed"}


def test_create_existing_and_generate_name(api_client, ns):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(ns, cm("dup"))
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map(ns, cm("dup"))
    assert e.value.status == 409 and "AlreadyExists" in e.value.body
    g = core.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(generate_name="gen-")))
    assert g.metadata.name.startswith("gen-") and len(g.metadata.name) == len("gen-") + 5
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta()))
    assert e.value.status == 422 and "name or generateName is required" in e.value.body


def test_label_and_field_selectors(api_client, ns):
    core = client.CoreV1Api(api_client)
    for name, labels in (("s1", {"tier": "web", "env": "prod"}), ("s2", {"tier": "db"}),
                         ("s3", {"tier": "web", "env": "dev"}), ("s4", None)):
        core.create_namespaced_config_map(ns, cm(name, labels))

    def names(**kw):
        return sorted(i.metadata.name for i in core.list_namespaced_config_map(ns, **kw).items)

    assert names(label_selector="tier=web") == ["s1", "s3"]
    assert names(label_selector="tier!=web") == ["s2", "s4"]
    assert names(label_selector="env in (prod,dev)") == ["s1", "s3"]
    assert names(label_selector="tier notin (web)") == ["s2", "s4"]
    assert names(label_selector="env") == ["s1", "s3"]
    assert names(label_selector="!env") == ["s2", "s4"]
    assert names(label_selector="tier=web,env=dev") == ["s3"]
    assert names(field_selector="metadata.name=s2") == ["s2"]
    assert names(field_selector="metadata.name!=s2") == ["s1", "s3", "s4"]
    with pytest.raises(ApiException) as e:
        core.list_namespaced_config_map(ns, field_selector="spec.bogus=x")
    assert e.value.status == 400
    with pytest.raises(ApiException) as e:
        core.list_namespaced_config_map(ns, label_selector="a in (")
    assert e.value.status == 400


def test_pod_field_selectors(api_client, ns):
    core = client.CoreV1Api(api_client)
    for name in ("p1", "p2"):
        core.create_namespaced_pod(ns, client.V1Pod(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")])))
    core.create_namespaced_pod_binding("p1", ns, client.V1Binding(
        metadata=client.V1ObjectMeta(name="p1"),
        target=client.V1ObjectReference(kind="Node", name="node-a")), _preload_content=False)
    on_a = core.list_namespaced_pod(ns, field_selector="spec.nodeName=node-a").items
    assert [p.metadata.name for p in on_a] == ["p1"]
    unbound = core.list_namespaced_pod(ns, field_selector="spec.nodeName=").items
    assert [p.metadata.name for p in unbound] == ["p2"]
    pending = core.list_namespaced_pod(ns, field_selector="status.phase=Pending").items
    assert sorted(p.metadata.name for p in pending) == ["p1", "p2"]
    p1 = core.read_namespaced_pod("p1", ns)
    assert any(c.type == "PodScheduled" and c.status == "True" for c in p1.status.conditions)


def test_pagination_pins_revision(api_client, ns):
    core = client.CoreV1Api(api_client)
    for i in range(25):
        core.create_namespaced_config_map(ns, cm(f"page-{i:02d}"))
    first = core.list_namespaced_config_map(ns, limit=10)
    assert len(first.items) == 10 and first.metadata._continue
    # a write between pages must not show up in later pages of the same list
    core.create_namespaced_config_map(ns, cm("page-99"))
    seen = [i.metadata.name for i in first.items]
    token = first.metadata._continue
    while token:
        page = core.list_namespaced_config_map(ns, limit=10, _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version
        seen += [i.metadata.name for i in page.items]
        token = page.metadata._continue
    assert seen == [f"page-{i:02d}" for i in range(25)]
    assert len(core.list_namespaced_config_map(ns).items) == 26


def test_watch_stream_and_resume(api_client, ns):
    core = client.CoreV1Api(api_client)
    listed = core.list_namespaced_config_map(ns)
    start = listed.metadata.resource_version

    def writer():
        core.create_namespaced_config_map(ns, cm("w1"))
        core.patch_namespaced_config_map("w1", ns, {"data": {"k": "2"}})
        core.delete_namespaced_config_map("w1", ns)

    t = threading.Timer(0.3, writer)
    t.start()
    w = watch.Watch()
    events = []
    for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=start,
                       timeout_seconds=10):
        events.append((ev["type"], ev["object"].metadata.name,
                       int(ev["object"].metadata.resource_version)))
        if len(events) == 3:
            w.stop()
    t.join()
    assert [e[:2] for e in events] == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
    revs = [e[2] for e in events]
    assert revs == sorted(revs) and len(set(revs)) == 3
    # resuming from the first event's revision replays exactly what came after it
    w2 = watch.Watch()
    replay = []
    for ev in w2.stream(core.list_namespaced_config_map, ns, resource_version=str(revs[0]),
                        timeout_seconds=5):
        replay.append(ev["type"])
        if len(replay) == 2:
            w2.stop()
    assert replay == ["MODIFIED", "DELETED"]


def test_watch_without_resource_version_sends_current_state(api_client, ns):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(ns, cm("existing"))
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_config_map, ns, timeout_seconds=5):
        assert ev["type"] == "ADDED" and ev["object"].metadata.name == "existing"
        w.stop()


def test_watch_bad_resource_version(server, ns):
    with server.client() as c:
        r = c.get(f"/api/v1/namespaces/{ns}/configmaps",
                  params={"watch": "true", "resourceVersion": "abc"})
        assert r.status_code == 400 and r.json()["kind"] == "Status"


@pytest.mark.parametrize("kind", ["strategic", "merge", "json"])
def test_patch_types(api_client, ns, kind):
    apps = client.AppsV1Api(api_client)
    d = deployment("p-" + kind)
    d.spec.template.spec.containers.append(client.V1Container(name="side", image="busybox:1"))
    apps.create_namespaced_deployment(ns, d)
    name = d.metadata.name
    if kind == "strategic":
        # by merge key: only the "main" container changes, "side" stays
        body = {"spec": {"template": {"spec": {"containers": [
            {"name": "main", "image": "busybox:2"}]}}}}
        out = apps.patch_namespaced_deployment(name, ns, body)
        assert [(c.name, c.image) for c in out.spec.template.spec.containers] == [
            ("main", "busybox:2"), ("side", "busybox:1")]
    elif kind == "merge":
        body = {"metadata": {"labels": {"x": "y"}}, "spec": {"replicas": 3}}
        api_client.set_default_header("Content-Type", "application/merge-patch+json")
        try:
            out = apps.patch_namespaced_deployment(name, ns, body,
                                                   _content_type="application/merge-patch+json")
        finally:
            api_client.default_headers.pop("Content-Type", None)
        assert out.metadata.labels == {"x": "y"} and out.spec.replicas == 3
    else:
        body = [{"op": "replace", "path": "/spec/replicas", "value": 4},
                {"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}}]
        out = apps.patch_namespaced_deployment(name, ns, body)
        assert out.spec.replicas == 4 and out.metadata.annotations == {"a": "b"}
    assert out.metadata.generation == 2


def test_generation_and_status_separation(api_client, ns):
    apps = client.AppsV1Api(api_client)
    d = apps.create_namespaced_deployment(ns, deployment("gen"))
    assert d.metadata.generation == 1 and d.status.replicas is None
    # a label change is not a spec change
    d = apps.patch_namespaced_deployment("gen", ns, {"metadata": {"labels": {"a": "b"}}})
    assert d.metadata.generation == 1
    # status written through the main resource is ignored ...
    d = apps.patch_namespaced_deployment("gen", ns, {"status": {"replicas": 7}})
    assert d.status.replicas is None
    # ... and spec written through /status is ignored
    d = apps.patch_namespaced_deployment_status(
        "gen", ns, {"status": {"replicas": 7}, "spec": {"replicas": 9}})
    assert d.status.replicas == 7 and d.spec.replicas == 1 and d.metadata.generation == 1
    d = apps.patch_namespaced_deployment("gen", ns, {"spec": {"replicas": 2}})
    assert d.metadata.generation == 2 and d.status.replicas == 7


def test_scale_subresource(api_client, ns):
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(ns, deployment("sc", replicas=2))
    s = apps.read_namespaced_deployment_scale("sc", ns)
    assert s.spec.replicas == 2 and s.status.selector == "app=sc"
    apps.patch_namespaced_deployment_scale("sc", ns, {"spec": {"replicas": 5}})
    assert apps.read_namespaced_deployment("sc", ns).spec.replicas == 5


def test_dry_run_changes_nothing(api_client, ns):
    core = client.CoreV1Api(api_client)
    out = core.create_namespaced_config_map(ns, cm("dry"), dry_run="All")
    assert out.metadata.name == "dry"
    with pytest.raises(ApiException) as e:
        core.read_namespaced_config_map("dry", ns)
    assert e.value.status == 404
    core.create_namespaced_config_map(ns, cm("real"))
    core.delete_namespaced_config_map("real", ns, dry_run="All")
    core.patch_namespaced_config_map("real", ns, {"data": {"k": "zzz"}}, dry_run="All")
    assert core.read_namespaced_config_map("real", ns).data == {"k": "v"}


def test_finalizers_hold_deletion(api_client, ns):
    core = client.CoreV1Api(api_client)
    c = cm("fin")
    c.metadata.finalizers = ["example.com/hold"]
    core.create_namespaced_config_map(ns, c)
    core.delete_namespaced_config_map("fin", ns)
    held = core.read_namespaced_config_map("fin", ns)
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("fin", ns, {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as e:
        core.read_namespaced_config_map("fin", ns)
    assert e.value.status == 404


def test_delete_propagation_policies(api_client, ns):
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(ns, deployment("bg"))
    st = apps.delete_namespaced_deployment("bg", ns, propagation_policy="Background")
    assert st["kind"] == "Status" and st["status"] == "Success"  # the client returns a dict
    apps.create_namespaced_deployment(ns, deployment("fg"))
    apps.delete_namespaced_deployment("fg", ns, propagation_policy="Foreground")
    held = apps.read_namespaced_deployment("fg", ns)
    assert "foregroundDeletion" in held.metadata.finalizers
    assert held.metadata.deletion_timestamp is not None
    apps.create_namespaced_deployment(ns, deployment("or"))
    apps.delete_namespaced_deployment("or", ns, propagation_policy="Orphan")
    assert "orphan" in apps.read_namespaced_deployment("or", ns).metadata.finalizers
    with pytest.raises(ApiException) as e:
        apps.delete_namespaced_deployment("bg", ns, propagation_policy="Sideways")
    assert e.value.status == 422


def test_delete_collection(api_client, ns):
    core = client.CoreV1Api(api_client)
    for i, tier in enumerate(("a", "a", "b")):
        core.create_namespaced_config_map(ns, cm(f"dc{i}", {"tier": tier}))
    core.delete_collection_namespaced_config_map(ns, label_selector="tier=a")
    left = [i.metadata.name for i in core.list_namespaced_config_map(ns).items]
    assert left == ["dc2"]


def test_namespace_must_exist(api_client):
    core = client.CoreV1Api(api_client)
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map("no-such-ns", cm("x"))
    assert e.value.status == 404 and 'namespaces \\"no-such-ns\\" not found' in e.value.body


def test_list_across_namespaces(api_client, ns):
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(ns, cm("across", {"mark": ns}))
    items = core.list_config_map_for_all_namespaces(label_selector=f"mark={ns}").items
    assert [(i.metadata.namespace, i.metadata.name) for i in items] == [(ns, "across")]


def test_events_in_both_groups(api_client, ns):
    core = client.CoreV1Api(api_client)
    ev = client.CoreV1Event(
        metadata=client.V1ObjectMeta(name="e1"),
        involved_object=client.V1ObjectReference(kind="Pod", name="p", namespace=ns),
        reason="Tested", message="hello", type="Normal",
        event_time=datetime.datetime.now(datetime.UTC))
    core.create_namespaced_event(ns, ev)
    events_api = client.EventsV1Api(api_client)
    got = events_api.read_namespaced_event("e1", ns)
    assert got.note == "hello" and got.regarding.name == "p" and got.reason == "Tested"


def test_rbac_and_cluster_scoped(api_client):
    rbac = client.RbacAuthorizationV1Api(api_client)
    name = f"system:test-{time.time_ns()}"
    rbac.create_cluster_role(client.V1ClusterRole(
        metadata=client.V1ObjectMeta(name=name),
        rules=[client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["get"])]))
    assert rbac.read_cluster_role(name).rules[0].verbs == ["get"]
    rbac.delete_cluster_role(name)


def test_eviction_respects_disruption_budgets(api_client, ns):
    core = client.CoreV1Api(api_client)
    policy = client.PolicyV1Api(api_client)
    for name in ("ev1", "ev2"):
        core.create_namespaced_pod(ns, client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels={"app": "ev"}),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")])))
    policy.create_namespaced_pod_disruption_budget(ns, client.V1PodDisruptionBudget(
        metadata=client.V1ObjectMeta(name="pdb"),
        spec=client.V1PodDisruptionBudgetSpec(min_available=1,
                                              selector=client.V1LabelSelector(match_labels={"app": "ev"}))))
    # no disruption controller has computed the budget yet: nothing may be evicted
    ev = client.V1Eviction(metadata=client.V1ObjectMeta(name="ev1", namespace=ns))
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod_eviction("ev1", ns, ev)
    assert e.value.status == 429 and "disruption budget" in e.value.body
    policy.patch_namespaced_pod_disruption_budget_status("pdb", ns, {"status": {
        "disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1,
        "expectedPods": 2, "observedGeneration": 1}})
    core.create_namespaced_pod_eviction("ev1", ns, ev)
    names = [p.metadata.name for p in core.list_namespaced_pod(ns).items]
    assert names == ["ev2"]
    status = policy.read_namespaced_pod_disruption_budget("pdb", ns).status
    assert status.disruptions_allowed == 0 and "ev1" in status.disrupted_pods
