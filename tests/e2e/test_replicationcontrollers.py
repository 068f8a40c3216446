"""ReplicationControllers end to end on a whole cluster: real kubectl applies the YAML
found in the wild, the controller keeps the pods (owned by the RC), `kubectl scale` goes
through /scale, `kubectl get rc` prints upstream's columns, and deleting the RC takes its
pods with it (garbage collector)."""

from __future__ import annotations

from typing import Iterator

import pytest
from kubernetes import client

from tests.conftest import Kubectl
from tests.helpers import namespace, raw, wait_for

pytestmark = pytest.mark.kubectl

RC = """apiVersion: v1
kind: ReplicationController
metadata:
  name: nginx
spec:
  replicas: 2
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: busybox:latest
"""


@pytest.fixture
def rns(api: client.ApiClient) -> Iterator[str]:
    yield from namespace(api, "rc")


def pods(api: client.ApiClient, ns: str) -> list[dict]:
    items = raw(client.CoreV1Api(api).list_namespaced_pod, ns, label_selector="app=nginx")
    return [p for p in items["items"] if not p["metadata"].get("deletionTimestamp")]


def test_replication_controller_lifecycle(kctl: Kubectl, api: client.ApiClient, rns: str) -> None:
    assert "replicationcontroller/nginx created" in kctl("apply", "-n", rns, "-f", "-", input=RC)
    got = wait_for(lambda: len(pods(api, rns)) == 2 and pods(api, rns), "2 pods")
    rc = raw(client.CoreV1Api(api).read_namespaced_replication_controller, "nginx", rns)
    assert rc["spec"]["selector"] == {"app": "nginx"}  # defaulted from the template
    for p in got:
        (ref,) = p["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
            "ReplicationController", "nginx", rc["metadata"]["uid"], True)
    wait_for(lambda: raw(client.CoreV1Api(api).read_namespaced_replication_controller,
                         "nginx", rns).get("status", {}).get("replicas") == 2, "status")
    assert "scaled" in kctl("scale", "-n", rns, "rc/nginx", "--replicas=3")
    wait_for(lambda: len(pods(api, rns)) == 3, "3 pods")
    header = kctl("get", "rc", "-n", rns).splitlines()[0].split()
    assert header == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    kctl("delete", "rc", "nginx", "-n", rns)
    wait_for(lambda: not pods(api, rns), "the RC's pods to be deleted")
