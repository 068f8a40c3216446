"""`kapi up --apiservers 3 --storage etcd`: three API servers on one machine sharing a
real etcd, the admin kubeconfig listing each (contexts kapi, kapi-apiserver-2 and -3);
a write through one reads back through the others with the same resourceVersion, and
after one is killed (-9) a client goes on through another with nothing lost. Stopping
`kapi up` stops the others.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, kubectl_or_skip, start_server, stop_server
from tests.etcdenv import start_etcd
from tests.helpers import wait_for


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name: [state, ppid, ...] ([] if gone)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (the extra servers `kapi up` started)."""
    return [int(e.name) for e in Path("/proc").iterdir()
            if e.name.isdigit() and _stat(int(e.name))[1:2] == [str(pid)]]


def alive(pid: int) -> bool:
    return _stat(pid)[:1] not in ([], ["Z"])


def test_three_apiservers_and_one_killed(tmp_path: Path) -> None:
    etcd = start_etcd()
    try:
        up = start_server(tmp_path / "up", storage="etcd", command="up",
                          extra=("--etcd-servers", etcd.url, "--apiservers", "3", "--nodes", "0",
                                 "--no-dns", "--no-proxy"))
        try:
            kubectl = kubectl_or_skip("1.33", up.kubeconfig)
            # kapi up adds the contexts once it has started the others (after it is ready)
            def listed() -> list[str]:
                names = sorted(kubectl("config", "get-contexts", "-o", "name").split())
                return names if len(names) == 3 else []
            contexts = wait_for(listed, "the extra servers' contexts", timeout=60)
            assert contexts == ["kapi", "kapi-apiserver-2", "kapi-apiserver-3"]
            for ctx in contexts:
                wait_for(lambda c=ctx: kubectl.run("--context", c, "get", "--raw", "/readyz",
                                                   check=False).stdout == "ok",
                         f"API server {ctx}", timeout=60)
            kubectl("--context", "kapi-apiserver-2", "create", "configmap", "c1",
                    "--from-literal", "k=v")
            rvs = {json.loads(kubectl("--context", ctx, "get", "configmap", "c1", "-o", "json"))
                   ["metadata"]["resourceVersion"] for ctx in contexts}
            assert len(rvs) == 1
            second = next(pid for pid in children(up.proc.pid)
                          if f"--port\0{up.port + 1}\0".encode() in
                          Path(f"/proc/{pid}/cmdline").read_bytes())
            os.kill(second, signal.SIGKILL)
            wait_for(lambda: kubectl.run("--context", "kapi-apiserver-2", "get", "--raw",
                                         "/readyz", "--request-timeout", "2s",
                                         check=False).returncode != 0,
                     "the killed server to be gone")
            assert kubectl("--context", "kapi-apiserver-3", "get", "configmap", "c1",
                           "-o", "jsonpath={.data.k}") == "v"
            kubectl("--context", "kapi-apiserver-3", "create", "configmap", "c2")
            assert "c2" in kubectl("--context", "kapi", "get", "configmaps")
            remaining = children(up.proc.pid)
        finally:
            assert stop_server(up.proc) == 0
        assert remaining and not [pid for pid in remaining if alive(pid)]
    finally:
        etcd.stop()


def test_apiservers_need_etcd(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "kapi.cli", "up", "--apiservers", "2",
                           "--data-dir", str(tmp_path), "--nodes", "0"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 2 and "--apiservers needs --storage etcd" in done.stderr
