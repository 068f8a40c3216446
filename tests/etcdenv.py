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

ETCD = os.environ.get("KAPI_ETCD", "etcd")


def etcd_binary() -> str:
    path = shutil.which(ETCD)
    if path is None:
        why = f"no {ETCD} binary (apt-get install etcd-server, or `make etcd-env`)"
        if os.environ.get("KAPI_REQUIRE_ETCD") == "1":
            pytest.fail(f"KAPI_REQUIRE_ETCD=1 but {why}")
        pytest.skip(why)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    binary = etcd_binary()
    data_dir = Path(tempfile.mkdtemp(prefix="kapi-etcd-"))
    client, peer = _free_port(), _free_port()
    scheme = "https" if tls else "http"
    url = f"{scheme}://{host}:{client}"
    args = [binary, "--name", "kapi-test", "--data-dir", str(data_dir / "data"),
            "--listen-client-urls", url, "--advertise-client-urls", url,
            "--listen-peer-urls", f"http://{host}:{peer}",
            "--initial-advertise-peer-urls", f"http://{host}:{peer}",
            "--initial-cluster", f"kapi-test=http://{host}:{peer}",
            "--logger", "zap", "--log-level", "warn"]
    if tls:
        args += ["--client-cert-auth", *(f"--{k}={v}" for k, v in tls.items())]
    log = data_dir / "etcd.log"
    proc = subprocess.Popen(args, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    etcd = Etcd(url, proc, data_dir, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # ready when the client port accepts
        if proc.poll() is not None:
            break
        try:
            socket.create_connection((host, client), timeout=0.5).close()
            time.sleep(0.2)  # the listener comes up just before the member is ready
            return etcd
        except OSError:
            time.sleep(0.1)
    output = log.read_text(errors="replace")[-2000:]
    etcd.stop()
    raise RuntimeError(f"etcd did not start:\n{output}")
