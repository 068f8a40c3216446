"""The kr8s operator pattern against kapi: a CustomResourceDefinition, then an operator
process written with kr8s (a class for the custom kind made with `new_class`, a watch
on it, a ConfigMap created for each new object and the object's status written)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Server
from tests.e2e.operators import operator
from tests.helpers import wait_for

GROUP = "kr8s.dev"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"greetings.{GROUP}"},
    "spec": {"group": GROUP, "scope": "Namespaced",
             "names": {"plural": "greetings", "singular": "greeting", "kind": "Greeting"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "properties": {
                                   "who": {"type": "string"}}},
                               "status": {"type": "object", "properties": {
                                   "configMap": {"type": "string"}}}}}}}]},
}
OPERATOR = '''
import kr8s
from kr8s.objects import ConfigMap, new_class

Greeting = new_class(kind="Greeting", version="kr8s.dev/v1", namespaced=True)

for event, greeting in kr8s.watch("greetings.kr8s.dev", namespace="default"):
    if event != "ADDED" or greeting.raw.get("status"):
        continue
    cm = ConfigMap({"metadata": {"name": greeting.name + "-greeting", "namespace": "default"},
                    "data": {"message": "hello " + greeting.spec["who"]}})
    cm.create()
    greeting.patch({"status": {"configMap": cm.name}}, subresource="status")
'''


def test_a_kr8s_operator_reacts_to_a_custom_object(server: Server, tmp_path: Any) -> None:
    pytest.importorskip("kr8s")
    base = f"/apis/{GROUP}/v1/namespaces/default/greetings"
    with server.client() as c:
        r = c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=CRD)
        assert r.status_code == 201, r.text
        (tmp_path / "op.py").write_text(OPERATOR)
        try:
            with operator([str(tmp_path / "op.py")], server.kubeconfig,
                          tmp_path / "kr8s.log"):
                r = c.post(base, json={"apiVersion": f"{GROUP}/v1", "kind": "Greeting",
                                       "metadata": {"name": "world"}, "spec": {"who": "kapi"}})
                assert r.status_code == 201, r.text

                def handled() -> Any:
                    return (c.get(f"{base}/world").json().get("status") or {}).get("configMap")
                assert wait_for(handled, "the operator's status", timeout=60) == \
                    "world-greeting"
            cm = c.get("/api/v1/namespaces/default/configmaps/world-greeting").json()
            assert cm["data"] == {"message": "hello kapi"}
        finally:
            c.delete(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/greetings.{GROUP}")
            c.delete("/api/v1/namespaces/default/configmaps/world-greeting")
