"""A node joining from another "machine": a network namespace this test makes, linked
to this host by a veth pair of its own (a /30 between the two ends, nothing else
routed), stands in for the joining machine. `kapi up` listens only on the host end's
address; inside the namespace, TLS bootstrapping with a token from `kapi token create`
(CA discovery pinned by --ca-cert-hash, a CSR auto-approved and signed) gives the node
its certificate, and a simulated node running under that identity runs a pod.

The pod's node is simulated: kapi's Docker kubelet serves on the Docker bridge's address,
which a namespace does not have (tests/e2e/test_network_join.py joins a Docker kubelet
over a non-loopback address from this host's namespace). Needs root and iproute2;
skips without them. The namespace, the link and the processes are removed at the end.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import REPO, Server, free_port, kubectl_or_skip, stop_server
from tests.e2e.test_network_join import _ready, new_link
from tests.helpers import wait_for

NODE_SCRIPT = """import asyncio, sys
from pathlib import Path
from runtime.client.rest import Client
from runtime.kubelet.bootstrap import join
from runtime.kubelet.simulated import run_simulated_nodes

async def main(server, token, pin, kubeconfig):
    path = await join(server, token, "netns-node-0", Path(kubeconfig), pin=pin, timeout=60)
    print("joined", flush=True)
    await run_simulated_nodes(Client.from_kubeconfig(path), count=1, prefix="netns-node-")

asyncio.run(main(*sys.argv[1:]))
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def netns() -> Iterator[tuple[str, str]]:
    """(namespace name, host-side address): a namespace reached over its own veth."""
    name, in_use = new_link("kapi-n")
    base = next(b for b in (f"10.252.{random.randrange(256)}.{4 * random.randrange(63)}"
                            for _ in range(100)) if f" {b[:-1]}" not in in_use)
    prefix, last = base.rsplit(".", 1)
    host, guest = f"{prefix}.{int(last) + 1}", f"{prefix}.{int(last) + 2}"
    _ip("netns", "add", name)
    try:
        _ip("link", "add", name, "type", "veth", "peer", "name", name + "p")
        _ip("link", "set", name + "p", "netns", name)
        _ip("addr", "add", f"{host}/30", "dev", name)
        _ip("link", "set", name, "up")
        _ip("-n", name, "addr", "add", f"{guest}/30", "dev", name + "p")
        _ip("-n", name, "link", "set", name + "p", "up")
        _ip("-n", name, "link", "set", "lo", "up")
        yield name, host
    finally:
        subprocess.run(["ip", "link", "del", name], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def test_a_node_joins_from_another_network_namespace(netns: tuple[str, str],
                                                      tmp_path: Path) -> None:
    name, host = netns
    port, data = free_port(), tmp_path / "server"
    url = f"https://{host}:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kapi.cli", "up", "--host", host, "--port", str(port),
         "--data-dir", str(data), "--nodes", "0", "--no-dns", "--no-proxy"],
        stdout=(tmp_path / "server.log").open("ab"), stderr=subprocess.STDOUT, cwd=REPO)
    server = Server(url, data, data / "kubeconfig", proc, port, tmp_path / "server.log")
    node: subprocess.Popen[bytes] | None = None
    try:
        wait_for(lambda: _ready(server), "the API server on its address", timeout=60)
        made = subprocess.run([sys.executable, "-m", "kapi.cli", "token", "create",
                               "--kubeconfig", str(server.kubeconfig), "--print-join-command"],
                              capture_output=True, text=True, cwd=REPO, check=True)
        words = made.stdout.split()
        assert words[3] == url
        log = tmp_path / "node.log"
        node = subprocess.Popen(
            ["ip", "netns", "exec", name, sys.executable, "-c", NODE_SCRIPT, url, words[5],
             words[7], str(tmp_path / "node.kubeconfig")],
            stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=REPO)
        admin = kubectl_or_skip("1.33", server.kubeconfig)
        wait_for(lambda: "Ready" in admin.run("get", "node", "netns-node-0",
                                              check=False).stdout,
                 "the node in the namespace to join", timeout=90)
        csrs = admin("get", "csr", "--no-headers")
        assert f"system:bootstrap:{words[5][:6]}" in csrs and "Approved,Issued" in csrs
        admin("run", "p", "--image", "busybox", "--restart", "Never",
              "--overrides", '{"spec": {"nodeName": "netns-node-0"}}')
        wait_for(lambda: admin("get", "pod", "p", "-o", "jsonpath={.status.phase}") == "Running",
                 "the pod to run on the joined node", timeout=60)
        assert "joined" in log.read_text()
    finally:
        if node is not None:
            node.terminate()
            node.wait(timeout=30)
        stop_server(server.proc)
