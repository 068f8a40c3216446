"""kapi on a 3-member etcd cluster: killing one member (SIGKILL, during writes) loses no
acknowledged write and the API keeps serving through the other two."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import start_server, stop_server
from tests.etcdenv import Etcd, start_etcd_cluster

WRITES = 60


@pytest.fixture
def cluster() -> Iterator[list[Etcd]]:
    members = start_etcd_cluster(3)
    yield members
    for m in members:
        m.stop()


def test_a_killed_member_loses_no_acknowledged_write(cluster: list[Etcd], tmp_path: Path) -> None:
    urls = ",".join(m.url for m in cluster)
    s = start_server(tmp_path, storage="etcd", extra=("--etcd-servers", urls))
    path = "/api/v1/namespaces/default/configmaps"
    acknowledged: list[str] = []
    refused = 0
    try:
        with s.client(timeout=30) as c:
            for i in range(WRITES):
                if i == WRITES // 3:
                    cluster[0].proc.kill()  # our own member, by its PID
                    cluster[0].proc.wait(10)
                r = c.post(path, json={"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": f"w{i}"}, "data": {"i": str(i)}})
                if r.status_code == 201:
                    acknowledged.append(f"w{i}")
                else:  # only while the cluster notices (a request on the dead member)
                    refused += 1
                    time.sleep(0.2)
            # it kept serving: most writes after the kill were acknowledged
            assert len([n for n in acknowledged if int(n[1:]) >= WRITES // 3]) >= WRITES // 2
            names = {i["metadata"]["name"] for i in c.get(path).json()["items"]}
        assert set(acknowledged) <= names
        assert refused <= 5
    finally:
        stop_server(s.proc)
