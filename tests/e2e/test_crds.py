"""CustomResourceDefinitions end to end: a real kapi server, real kubectl (1.27 and 1.33)
and the official Python client (its dynamic client too). A definition with a structural
schema, defaults, pruning, a CEL rule and printer columns is used right after its
creation; several versions; status and scale; deletion removes the objects; a restarted
server serves every stored definition again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import WANTED_KUBECTL, Kubectl, Server, kubectls, start_server, stop_server
from tests.helpers import api_for, wait_for

pytestmark = pytest.mark.kubectl


def crd_manifest(group: str, *, plural: str = "crontabs", kind: str = "CronTab",
                 scope: str = "Namespaced") -> dict:
    """The documentation's CronTab, with everything this suite checks."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group, "scope": scope,
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind,
                      "shortNames": [kind.lower()[:2] + "x"], "categories": ["all"]},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "subresources": {"status": {}, "scale": {
                    "specReplicasPath": ".spec.replicas",
                    "statusReplicasPath": ".status.replicas",
                    "labelSelectorPath": ".status.selector"}},
                "additionalPrinterColumns": [
                    {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "description": "What the cron job runs.",
                            "x-kubernetes-validations": [{
                                "rule": "self.replicas <= self.maxReplicas",
                                "messageExpression": "'replicas ' + string(self.replicas) + "
                                                     "' is above ' + string(self.maxReplicas)"}],
                            "properties": {
                                "cronSpec": {"type": "string", "pattern": r"^(\S+\s+){4}\S+$",
                                             "description": "The schedule, in cron format."},
                                "image": {"type": "string"},
                                "replicas": {"type": "integer", "minimum": 0, "default": 1},
                                "maxReplicas": {"type": "integer", "default": 5},
                                "ports": {
                                    "type": "array", "x-kubernetes-list-type": "map",
                                    "x-kubernetes-list-map-keys": ["name"],
                                    "items": {"type": "object", "required": ["name"],
                                              "properties": {
                                                  "name": {"type": "string"},
                                                  "port": {"type": "integer"}}}},
                                "extra": {"type": "object",
                                          "x-kubernetes-preserve-unknown-fields": True},
                                "size": {"x-kubernetes-int-or-string": True},
                            }},
                        "status": {"type": "object", "properties": {
                            "replicas": {"type": "integer"},
                            "selector": {"type": "string"}}},
                    }}},
            }],
        },
    }


CRONTAB = """\
apiVersion: {group}/v1
kind: CronTab
metadata:
  name: my-cron
spec:
  cronSpec: "* * * * */5"
  image: my-cron-image
  size: 3
  extra:
    anything: [1, 2]
"""


@pytest.fixture(scope="module")
def crd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module's own: the definitions made here stay out of the shared
    server's discovery."""
    s = start_server(tmp_path_factory.mktemp("crds"))
    yield s
    stop_server(s.proc)


def _binary(version: str) -> Path:
    path = kubectls().get(version)
    if path is None:
        pytest.skip(f"kubectl {version} is not installed")
    return path


@pytest.fixture(params=WANTED_KUBECTL)
def kc(request: pytest.FixtureRequest, crd_server: Server) -> Kubectl:
    """kubectl 1.27 and 1.33 against this module's server."""
    return Kubectl(request.param, _binary(request.param), crd_server.kubeconfig)


def group_for(kc: Kubectl, name: str) -> str:
    return f"{name}{kc.version.replace('.', '')}.example.com"


def test_a_new_definition_is_used_at_once_with_kubectl(kc, tmp_path):
    group = group_for(kc, "cron")
    (tmp_path / "crd.json").write_text(json.dumps(crd_manifest(group)))
    (tmp_path / "ct.yaml").write_text(CRONTAB.format(group=group))
    # no waiting between the definition and its first object: discovery has it already
    kc("apply", "-f", str(tmp_path / "crd.json"))
    assert "created" in kc("apply", "-f", str(tmp_path / "ct.yaml"))
    table = kc("get", "crontabs.v1." + group)
    header, row = table.splitlines()
    assert header.split() == ["NAME", "SPEC", "REPLICAS"] + header.split()[3:]
    assert row.split()[:7] == ["my-cron", "*", "*", "*", "*", "*/5", "1"]
    obj = json.loads(kc("get", "crontabs.v1." + group, "my-cron", "-o", "json"))
    assert obj["spec"]["replicas"] == 1 and obj["spec"]["maxReplicas"] == 5  # defaults
    assert obj["spec"]["extra"] == {"anything": [1, 2]}  # preserved unknown fields
    assert obj["spec"]["size"] == 3  # int-or-string
    explained = kc("explain", "crontabs.spec", f"--api-version={group}/v1")
    assert "The schedule, in cron format." in explained and "cronSpec" in explained
    assert f"crontab.{group}/my-cron" in kc("get", "all")  # category "all"


def test_schema_errors_reach_kubectl_with_upstreams_messages(kc, tmp_path):
    group = group_for(kc, "errs")
    (tmp_path / "crd.json").write_text(json.dumps(crd_manifest(group)))
    kc("apply", "-f", str(tmp_path / "crd.json"))
    bad = CRONTAB.format(group=group).replace("image: my-cron-image", "image: 7\n  bogus: 1")
    (tmp_path / "bad.yaml").write_text(bad)
    p = kc.run("apply", "-f", str(tmp_path / "bad.yaml"), check=False)
    assert 'strict decoding error: unknown field "spec.bogus"' in p.stderr
    p = kc.run("apply", "--validate=false", "-f", str(tmp_path / "bad.yaml"), check=False)
    assert 'spec.image: Invalid value: "integer": spec.image in body must be of type ' \
           'string: "integer"' in p.stderr
    (tmp_path / "ok.yaml").write_text(CRONTAB.format(group=group) + "  bogus: 1\n")
    kc("apply", "--validate=false", "-f", str(tmp_path / "ok.yaml"))
    obj = json.loads(kc("get", "crontabs." + group, "my-cron", "-o", "json"))
    assert "bogus" not in obj["spec"]  # pruned
    p = kc.run("patch", "crontabs." + group, "my-cron", "--type=merge",
               "-p", '{"spec":{"replicas":9}}', check=False)
    assert 'spec: Invalid value: "object": replicas 9 is above 5' in p.stderr
    p = kc.run("patch", "crontabs." + group, "my-cron", "--type=merge",
               "-p", '{"spec":{"cronSpec":"bad"}}', check=False)
    assert "spec.cronSpec in body should match" in p.stderr
    p = kc.run("patch", "crontabs." + group, "my-cron", "--type=merge",
               "-p", '{"spec":{"replicas":-1}}', check=False)
    assert "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than " \
           "or equal to 0" in p.stderr


def test_scale_and_status_subresources(kc, tmp_path):
    group = group_for(kc, "scale")
    (tmp_path / "crd.json").write_text(json.dumps(crd_manifest(group)))
    kc("apply", "-f", str(tmp_path / "crd.json"))
    kc("apply", "-f", "-", input=CRONTAB.format(group=group))
    kc("scale", "crontabs." + group, "my-cron", "--replicas=3")
    obj = json.loads(kc("get", "crontabs." + group, "my-cron", "-o", "json"))
    assert obj["spec"]["replicas"] == 3 and obj["metadata"]["generation"] == 2
    # a main write cannot set status; the status subresource can
    kc("patch", "crontabs." + group, "my-cron", "--type=merge", "-p",
       '{"status":{"replicas":2}}')
    assert "status" not in json.loads(kc("get", "crontabs." + group, "my-cron", "-o", "json"))
    kc("patch", "crontabs." + group, "my-cron", "--subresource=status", "--type=merge", "-p",
       '{"status":{"replicas":2,"selector":"app=cron"}}')
    obj = json.loads(kc("get", "crontabs." + group, "my-cron", "-o", "json"))
    assert obj["status"] == {"replicas": 2, "selector": "app=cron"}
    assert obj["metadata"]["generation"] == 2  # status does not count
    scale = json.loads(kc("get", "--raw", f"/apis/{group}/v1/namespaces/default/crontabs/"
                                          "my-cron/scale"))
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 2, "selector": "app=cron"}
    # kubectl edit: an editor changes the object, kubectl patches it back
    kc("edit", "crontabs." + group, "my-cron",
       env={"EDITOR": "sed -i -e s/my-cron-image/edited-image/"})
    obj = json.loads(kc("get", "crontabs." + group, "my-cron", "-o", "json"))
    assert obj["spec"]["image"] == "edited-image"


def test_deleting_a_definition_deletes_its_objects(kc, tmp_path):
    group = group_for(kc, "gone")
    (tmp_path / "crd.json").write_text(json.dumps(crd_manifest(group)))
    kc("apply", "-f", str(tmp_path / "crd.json"))
    kc("apply", "-f", "-", input=CRONTAB.format(group=group))
    kc("delete", "crd", f"crontabs.{group}")  # waits for the finalizer by default
    assert f"crontabs.{group}" not in kc("get", "crd")
    p = kc.run("get", "--raw", f"/apis/{group}/v1/namespaces/default/crontabs", check=False)
    assert p.returncode != 0 and "NotFound" in p.stderr + p.stdout or "not found" in p.stderr
    kc("apply", "-f", str(tmp_path / "crd.json"))  # the same definition again: no objects
    assert kc("get", f"crontabs.{group}", "-o", "name") == ""


def test_server_side_apply_merges_map_lists_by_key(crd_server):
    group = "ssa.example.com"
    with crd_server.client() as c:
        r = c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                   json=crd_manifest(group))
        assert r.status_code == 201, r.text
        base = f"/apis/{group}/v1/namespaces/default/crontabs/merge"
        for manager, port in (("alice", {"name": "http", "port": 80}),
                              ("bob", {"name": "metrics", "port": 9090})):
            body = {"apiVersion": f"{group}/v1", "kind": "CronTab",
                    "metadata": {"name": "merge"},
                    "spec": {"cronSpec": "* * * * *", "ports": [port]}}
            r = c.patch(base, params={"fieldManager": manager}, content=json.dumps(body),
                        headers={"content-type": "application/apply-patch+yaml"})
            assert r.status_code in (200, 201), r.text
        ports = c.get(base).json()["spec"]["ports"]
        assert sorted(p["name"] for p in ports) == ["http", "metrics"]
        r = c.patch(base, content='{"spec":{"replicas":2}}',
                    headers={"content-type": "application/strategic-merge-patch+json"})
        assert r.status_code == 415, r.text


def test_definition_validation_and_status(crd_server):
    with crd_server.client() as c:
        bad = crd_manifest("nodot")
        bad["metadata"]["name"] = "wrong.nodot"
        bad["spec"]["versions"][0]["storage"] = False
        bad["spec"]["scope"] = "Everywhere"
        r = c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=bad)
        assert r.status_code == 422, r.text
        causes = {(x["field"], x["message"]) for x in r.json()["details"]["causes"]}
        assert ("metadata.name", 'Invalid value: "wrong.nodot": must be '
                                 'spec.names.plural+"."+spec.group') in causes
        assert ("spec.group", 'Invalid value: "nodot": should be a domain with at least one '
                              'dot') in causes
        assert ("spec.scope", 'Unsupported value: "Everywhere": supported values: "Cluster", '
                              '"Namespaced"') in causes
        assert any(f == "spec.versions" and m.endswith(
            "must have exactly one version marked as storage version") for f, m in causes)
        good = crd_manifest("status.example.com")
        r = c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=good)
        assert r.status_code == 201, r.text
        name = good["metadata"]["name"]

        def established() -> dict:
            st = c.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
                       ).json()["status"]
            kinds = {x["type"]: x["status"] for x in st.get("conditions") or []}
            return st if kinds.get("Established") == "True" else {}
        st = wait_for(established, "the definition to be Established", timeout=10)
        assert {x["type"]: x["reason"] for x in st["conditions"]} == {
            "NamesAccepted": "NoConflicts", "Established": "InitialNamesAccepted"}
        assert st["acceptedNames"]["kind"] == "CronTab" and st["storedVersions"] == ["v1"]


def test_multiple_versions_with_the_none_conversion(crd_server):
    from kubernetes import dynamic

    group = "multi.example.com"
    crd = crd_manifest(group, scope="Cluster")
    v1 = crd["spec"]["versions"][0]
    beta = json.loads(json.dumps(v1)) | {"name": "v1beta1", "storage": False}
    alpha = json.loads(json.dumps(v1)) | {"name": "v1alpha1", "storage": False, "served": False}
    crd["spec"]["versions"] = [beta, v1, alpha]
    with crd_server.client() as c:
        assert c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                      json=crd).status_code == 201
        group_doc = c.get(f"/apis/{group}").json()
        assert group_doc["preferredVersion"]["version"] == "v1"
        assert [v["version"] for v in group_doc["versions"]] == ["v1", "v1beta1"]
        assert c.get(f"/apis/{group}/v1alpha1/crontabs").status_code == 404
    with api_for(crd_server.kubeconfig) as api:
        dyn = dynamic.DynamicClient(api)
        beta_api = dyn.resources.get(api_version=f"{group}/v1beta1", kind="CronTab")
        beta_api.create(body={"apiVersion": f"{group}/v1beta1", "kind": "CronTab",
                              "metadata": {"name": "one"}, "spec": {"cronSpec": "* * * * *"}})
        got = dyn.resources.get(api_version=f"{group}/v1", kind="CronTab").get(name="one")
        assert got.apiVersion == f"{group}/v1" and got.spec.replicas == 1
        assert "namespace" not in got.metadata.to_dict()
        listed = beta_api.get()
        assert [i.apiVersion for i in listed.items] == [f"{group}/v1beta1"]
        beta_api.delete(name="one")
        assert beta_api.get().items == []


def test_discovery_and_openapi_publish_the_definition(crd_server):
    group = "published.example.com"
    with crd_server.client() as c:
        assert c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                      json=crd_manifest(group)).status_code == 201
        agg = c.get("/apis", headers={"accept": "application/json;g=apidiscovery.k8s.io;"
                                                "v=v2;as=APIGroupDiscoveryList"}).json()
        entry = next(g for g in agg["items"] if g["metadata"]["name"] == group)
        res = entry["versions"][0]["resources"][0]
        assert res["resource"] == "crontabs" and res["scope"] == "Namespaced"
        assert {s["subresource"] for s in res["subresources"]} == {"status", "scale"}
        resources = c.get(f"/apis/{group}/v1").json()["resources"]
        assert {r["name"] for r in resources} == {"crontabs", "crontabs/status",
                                                  "crontabs/scale"}
        main = next(r for r in resources if r["name"] == "crontabs")
        assert main["categories"] == ["all"] and main["shortNames"] == ["crx"]
        v2 = c.get("/openapi/v2").json()
        schema = v2["definitions"]["com.example.published.v1.CronTab"]
        assert schema["properties"]["spec"]["properties"]["replicas"]["default"] == 1
        assert f"/apis/{group}/v1/namespaces/{{namespace}}/crontabs" in v2["paths"]
        paths = c.get("/openapi/v3").json()["paths"]
        assert f"apis/{group}/v1" in paths
        doc = c.get("/openapi/v3/" + f"apis/{group}/v1").json()
        assert "com.example.published.v1.CronTab" in doc["components"]["schemas"]


def test_a_restarted_server_serves_every_stored_definition(tmp_path):
    s = start_server(tmp_path / "data")
    try:
        with s.client() as c:
            assert c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                          json=crd_manifest("again.example.com")).status_code == 201
            r = c.post("/apis/again.example.com/v1/namespaces/default/crontabs",
                       json=yaml.safe_load(CRONTAB.format(group="again.example.com")))
            assert r.status_code == 201, r.text
    finally:
        stop_server(s.proc)
    s = start_server(Path(s.data_dir), port=s.port)
    try:
        with s.client() as c:
            got = c.get("/apis/again.example.com/v1/namespaces/default/crontabs/my-cron")
            assert got.status_code == 200 and got.json()["spec"]["maxReplicas"] == 5
    finally:
        stop_server(s.proc)


CRD_PORTS = "CustomResourceDefinition|AggregatedDiscovery.*CRDs|FieldValidation.*CR"


def test_the_crd_conformance_ports_pass(cluster, tmp_path):
    """On a whole cluster: some ports work in a namespace, which needs its default
    service account."""
    import subprocess
    import sys

    from tests.conftest import REPO

    report = tmp_path / "report.json"
    p = subprocess.run([sys.executable, "-m", "conformance.run", "--kubeconfig",
                        str(cluster.kubeconfig), "--focus", CRD_PORTS, "--report",
                        str(report)], capture_output=True, text=True, timeout=600, cwd=REPO)
    results = {t["name"]: t["result"] for t in json.loads(report.read_text())["tests"]}
    ported = {n: r for n, r in results.items() if r != "not ported"}
    assert len(ported) >= 13, results
    assert set(ported.values()) == {"passed"}, p.stdout[-4000:]


KOPF_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "kopfexamples.kopf.dev"},
    "spec": {"group": "kopf.dev", "scope": "Namespaced",
             "names": {"plural": "kopfexamples", "singular": "kopfexample",
                       "kind": "KopfExample", "shortNames": ["kopfexes", "kopfex", "kexes", "kex"]},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True},
                               "status": {"type": "object",
                                          "x-kubernetes-preserve-unknown-fields": True}}}}}]},
}
KOPF_OPERATOR = '''
import kopf

@kopf.on.create("kopf.dev", "v1", "kopfexamples")
def create_fn(spec, name, **kwargs):
    return {"message": f"hello {name}, duration {spec.get('duration')}"}
'''


def test_the_kopf_quickstart_operator_reacts_to_a_custom_object(crd_server, tmp_path):
    """kopf's quickstart: its CRD, a create handler, its result written to status."""
    from tests.e2e.operators import operator

    pytest.importorskip("kopf")
    with crd_server.client() as c:
        assert c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                      json=KOPF_CRD).status_code == 201
        (tmp_path / "op.py").write_text(KOPF_OPERATOR)
        with operator(["-m", "kopf", "run", "--standalone", "--namespace", "default",
                       str(tmp_path / "op.py")], crd_server.kubeconfig, tmp_path / "kopf.log"):
            body = {"apiVersion": "kopf.dev/v1", "kind": "KopfExample",
                    "metadata": {"name": "kopf-example-1"},
                    "spec": {"duration": "1m", "field": "value", "items": ["item1"]}}
            r = c.post("/apis/kopf.dev/v1/namespaces/default/kopfexamples", json=body)
            assert r.status_code == 201, r.text

            def handled() -> dict:
                obj = c.get("/apis/kopf.dev/v1/namespaces/default/kopfexamples/"
                            "kopf-example-1").json()
                return (obj.get("status") or {}).get("create_fn") or {}
            got = wait_for(handled, "kopf's handler result in status", timeout=60)
            assert got == {"message": "hello kopf-example-1, duration 1m"}


def test_a_terminating_definition_waits_for_finalizers_and_refuses_creates(crd_server):
    group = "final.example.com"
    base = f"/apis/{group}/v1/namespaces/default/crontabs"
    crd_path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/crontabs.{group}"
    with crd_server.client() as c:
        assert c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                      json=crd_manifest(group)).status_code == 201
        held = yaml.safe_load(CRONTAB.format(group=group))
        held["metadata"]["finalizers"] = ["example.com/hold"]
        assert c.post(base, json=held).status_code == 201
        assert c.delete(crd_path).status_code == 200

        def terminating() -> dict:
            st = c.get(crd_path).json().get("status") or {}
            return next((x for x in st.get("conditions") or []
                         if x["type"] == "Terminating"), {})
        cond = wait_for(terminating, "the Terminating condition", timeout=10)
        assert cond["reason"] == "InstanceDeletionInProgress"
        r = c.post(base, json=yaml.safe_load(CRONTAB.format(group=group).replace(
            "my-cron", "late")))
        assert r.status_code == 405, r.text
        assert r.json()["message"] == \
            "create not allowed while custom resource definition is terminating"
        # the object holds the definition until its own finalizer goes
        assert c.get(base + "/my-cron").json()["metadata"]["deletionTimestamp"]
        r = c.patch(base + "/my-cron", content='{"metadata":{"finalizers":null}}',
                    headers={"content-type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text
        wait_for(lambda: c.get(crd_path).status_code == 404, "the definition to go",
                 timeout=15)
