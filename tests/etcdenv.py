"""A real etcd for tests: `start_etcd()` runs Debian's etcd-server binary on free
loopback ports with a temporary data dir, and `Etcd.stop()` ends it by its PID.

Without the binary the tests skip, unless KAPI_REQUIRE_ETCD=1 (as .ci/run sets, after
scripts/etcd-env.sh installed it) makes that a failure, so CI cannot pass with every
etcd test skipped.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port

ETCD = os.environ.get("KAPI_ETCD", "etcd")


def etcd_binary() -> str:
    path = shutil.which(ETCD)
    if path is None:
        why = f"no {ETCD} binary (apt-get install etcd-server, or `make etcd-env`)"
        if os.environ.get("KAPI_REQUIRE_ETCD") == "1":
            pytest.fail(f"KAPI_REQUIRE_ETCD=1 but {why}")
        pytest.skip(why)
    return path


@dataclass
class Etcd:
    url: str
    proc: subprocess.Popen[bytes]
    data_dir: Path
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def start_etcd(*, tls: dict[str, str] | None = None, host: str = "127.0.0.1") -> Etcd:
    """One etcd member on free ports. `tls` (cert-file, key-file, trusted-ca-file) serves
    clients over TLS and demands a client certificate signed by that CA."""
    return start_etcd_cluster(1, tls=tls, host=host)[0]


def start_etcd_cluster(members: int, *, tls: dict[str, str] | None = None,
                       host: str = "127.0.0.1") -> list[Etcd]:
    """`members` etcd members forming one cluster, each on its own free ports."""
    binary = etcd_binary()
    ports = [(free_port(), free_port()) for _ in range(members)]
    initial = ",".join(f"m{i}=http://{host}:{peer}" for i, (_, peer) in enumerate(ports))
    started: list[Etcd] = []
    try:
        for i, (client, peer) in enumerate(ports):
            started.append(_member(binary, f"m{i}", host, client, peer, initial, tls))
        for e, (client, _) in zip(started, ports, strict=True):
            _wait_ready(e, host, client)
    except BaseException:
        for e in started:
            e.stop()
        raise
    return started


def _member(binary: str, name: str, host: str, client: int, peer: int, initial: str,
            tls: dict[str, str] | None) -> Etcd:
    data_dir = Path(tempfile.mkdtemp(prefix="kapi-etcd-"))
    url = f"{'https' if tls else 'http'}://{host}:{client}"
    args = [binary, "--name", name, "--data-dir", str(data_dir / "data"),
            "--listen-client-urls", url, "--advertise-client-urls", url,
            "--listen-peer-urls", f"http://{host}:{peer}",
            "--initial-advertise-peer-urls", f"http://{host}:{peer}",
            "--initial-cluster", initial, "--logger", "zap", "--log-level", "warn"]
    if tls:
        args += ["--client-cert-auth", *(f"--{k}={v}" for k, v in tls.items())]
    log = data_dir / "etcd.log"
    proc = subprocess.Popen(args, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    return Etcd(url, proc, data_dir, log)


def _wait_ready(etcd: Etcd, host: str, client: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # ready when the client port accepts
        if etcd.proc.poll() is not None:
            break
        try:
            socket.create_connection((host, client), timeout=0.5).close()
            time.sleep(0.2)  # the listener comes up just before the member is ready
            return
        except OSError:
            time.sleep(0.1)
    output = etcd.log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"etcd did not start:\n{output}")
