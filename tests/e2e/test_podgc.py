"""Pod garbage collection on a real cluster: pods bound to a node that is deleted are
force-deleted after the quarantine (the cluster fixture sets it to 3 s)."""

from __future__ import annotations

import time


def test_pods_of_a_deleted_node_are_collected(cluster):
    ns, node = f"podgc-{time.time_ns() % 10**8}", f"podgc-node-{time.time_ns() % 10**8}"
    with cluster.client(timeout=10) as c:
        assert c.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).status_code == 201
        assert c.post("/api/v1/nodes", json={"metadata": {"name": node}}).status_code == 201
        pod = {"metadata": {"name": "stranded"},
               "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}}
        assert c.post(f"/api/v1/namespaces/{ns}/pods", json=pod).status_code == 201
        assert c.delete(f"/api/v1/nodes/{node}").status_code == 200
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if c.get(f"/api/v1/namespaces/{ns}/pods/stranded").status_code == 404:
                break
            time.sleep(0.2)
        assert c.get(f"/api/v1/namespaces/{ns}/pods/stranded").status_code == 404
