"""A data dir written under kapi's earlier key layout (/registry/<group>/<resource>/…,
/registry/nodes/…) still shows its objects after the move to upstream's layout: the
server moves them at start, keeping their contents, uids and creation times."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from kapi.storage import SQLiteStorage
from tests.conftest import start_server, stop_server

OLD = {
    "/registry/nodes/n1": {"apiVersion": "v1", "kind": "Node",
                           "metadata": {"name": "n1", "uid": "u-node"}},
    "/registry/apps/deployments/default/d": {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default", "uid": "u-deploy",
                     "creationTimestamp": "2026-01-02T03:04:05Z"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}},
                              "spec": {"containers": [{"name": "c", "image": "x"}]}}}},
}


async def _write_old(db: Path) -> None:
    store = SQLiteStorage(db)
    await store.start()
    for key, obj in OLD.items():
        await store.create(key, orjson.dumps(obj))
    await store.close()


def test_objects_under_the_earlier_keys_are_moved(tmp_path: Path) -> None:
    asyncio.run(_write_old(tmp_path / "kapi.db"))
    s = start_server(tmp_path)
    try:
        with s.client() as c:
            node = c.get("/api/v1/nodes/n1").json()
            assert node["metadata"]["uid"] == "u-node"
            d = c.get("/apis/apps/v1/namespaces/default/deployments/d").json()
            assert d["metadata"]["uid"] == "u-deploy"
            assert d["metadata"]["creationTimestamp"] == "2026-01-02T03:04:05Z"
            assert [i["metadata"]["name"] for i in c.get("/api/v1/nodes").json()["items"]] == ["n1"]
    finally:
        stop_server(s.proc)

    async def keys() -> list[str]:
        store = SQLiteStorage(tmp_path / "kapi.db")
        await store.start()
        try:
            return [kv.key for kv in (await store.list("/registry/")).items]
        finally:
            await store.close()
    found = asyncio.run(keys())
    assert "/registry/minions/n1" in found and "/registry/deployments/default/d" in found
    assert not any(k.startswith(("/registry/nodes/", "/registry/apps/")) for k in found)
