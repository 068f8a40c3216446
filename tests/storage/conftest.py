"""The storage suites' shared fixture: one real etcd for the session, started on free
loopback ports with a temporary data dir and stopped by its PID at the end (skipped
without the etcd binary, unless KAPI_REQUIRE_ETCD=1)."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.etcdenv import Etcd, start_etcd


@pytest.fixture(scope="session")
def etcd_server() -> Iterator[Etcd]:
    etcd = start_etcd()
    try:
        yield etcd
    finally:
        etcd.stop()
