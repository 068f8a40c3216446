"""Shared fixtures: a real kapi API server in a subprocess, the real kubectl binaries
and the official Python client pointed at it.

Servers speak HTTPS with the data dir's CA (as `kapi up` does) unless started with
`--insecure-http`; tests reach them only through `Server` (its client(), ssl_context(),
kubeconfig and runtime_client()), never through a hand-built URL.

kubectl binaries are found through KAPI_KUBECTL (a path-separated list of binaries or
folders); by default every kubectl.1.NN under the Google Cloud SDK folder and the
kubectl on PATH. A version that is absent is skipped, so the suite runs anywhere.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SDK_DIR = Path("/usr/lib/google-cloud-sdk/bin")
WANTED_KUBECTL = ("1.27", "1.33")  # the versions every kubectl test runs with


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    data_dir: Path
    kubeconfig: Path
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def tls(self) -> bool:
        return self.url.startswith("https://")

    @property
    def ca(self) -> Path:
        """The cluster CA the server's certificate chains to (`<data-dir>/pki/ca.crt`)."""
        return self.data_dir / "pki" / "ca.crt"

    def ssl_context(self, *, cert: bool = True) -> ssl.SSLContext | None:
        """Trusts the cluster CA and (cert=True) presents the admin's client certificate;
        None over plain HTTP."""
        if not self.tls:
            return None
        ctx = ssl.create_default_context(cafile=str(self.ca))
        if cert:
            pki = self.data_dir / "pki"
            ctx.load_cert_chain(pki / "admin.crt", pki / "admin.key")
        return ctx

    def client(self, *, token: str | None = None, cert: bool | None = None,
               **kw: object) -> httpx.Client:
        """An HTTP client for this server: the admin's credentials, or with `token` only
        that bearer token (tests of identities go through here, never a hand-built URL);
        cert=False for no credentials at all."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        want_cert = token is None if cert is None else cert
        return httpx.Client(base_url=self.url, timeout=kw.pop("timeout", 30),  # type: ignore[arg-type]
                            headers=headers, verify=self.ssl_context(cert=want_cert) or True,
                            **kw)  # type: ignore[arg-type]

    def async_client(self, **kw: object) -> httpx.AsyncClient:
        """The admin's asyncio HTTP client for this server."""
        return httpx.AsyncClient(base_url=self.url, verify=self.ssl_context() or True,
                                 **kw)  # type: ignore[arg-type]

    def connect(self, timeout: float | None = None) -> socket.socket:
        """A raw connection to the server (TLS as the admin, ALPN http/1.1, when the
        server speaks TLS), for tests of bytes on the wire."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        ctx = self.ssl_context()
        if ctx is None:
            return sock
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx.wrap_socket(sock, server_hostname="127.0.0.1")

    def websocket(self, path: str, **kw: object):  # type: ignore[no-untyped-def]
        """A WebSocket to `path` (websocket-client), as the admin; raises as
        websocket.create_connection does."""
        import websocket
        if not self.tls:
            return websocket.create_connection(f"ws://127.0.0.1:{self.port}{path}", **kw)
        pki = self.data_dir / "pki"
        return websocket.create_connection(
            f"wss://127.0.0.1:{self.port}{path}", sslopt={
                "ca_certs": str(self.ca), "certfile": str(pki / "admin.crt"),
                "keyfile": str(pki / "admin.key")}, **kw)

    def runtime_client(self, **kw: object):  # type: ignore[no-untyped-def]
        """kapi's own REST client (runtime/client/rest.py) with the admin kubeconfig."""
        from runtime.client.rest import Client
        return Client.from_kubeconfig(self.kubeconfig, **kw)  # type: ignore[arg-type]

    def kubeconfig_for(self, path: Path, *, token: str) -> Path:
        """A kubeconfig for this server whose only credential is `token` (for kubectl
        and the Python client as that identity)."""
        cfg = yaml.safe_load(self.kubeconfig.read_text())
        cfg["users"] = [{"name": "token-user", "user": {"token": token}}]
        for ctx in cfg["contexts"]:
            ctx["context"]["user"] = "token-user"
        path.write_text(yaml.safe_dump(cfg))
        path.chmod(0o600)
        return path


def start_server(data_dir: Path, *, storage: str = "sqlite", port: int | None = None,
                 extra: tuple[str, ...] = (), command: str = "apiserver") -> Server:
    """Start `kapi <command>` (apiserver, or up for a whole cluster) and wait until ready.
    A bare API server has no controller manager to make each namespace's default
    ServiceAccount, so its ServiceAccount admission is off unless `extra` says otherwise."""
    port = port or free_port()
    if command == "apiserver" and "--disable-admission-plugins" not in extra:
        extra = (*extra, "--disable-admission-plugins", "ServiceAccount")
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"server-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kapi.cli", command, "--data-dir", str(data_dir),
         "--port", str(port), "--storage", storage, *extra],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=REPO)
    scheme = "http" if "--insecure-http" in extra else "https"
    server = Server(f"{scheme}://127.0.0.1:{port}", data_dir, data_dir / "kubeconfig", proc,
                    port, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"kapi exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            # the CA exists once the server listens: until then, connecting fails anyway
            if (not server.tls or server.ca.exists()) and httpx.get(
                    server.url + "/readyz", timeout=1,
                    verify=server.ssl_context(cert=False) or True).status_code == 200:
                return server
        except (httpx.HTTPError, ssl.SSLError):
            pass
        time.sleep(0.05)
    stop_server(proc)
    raise RuntimeError("kapi did not become ready in 30 s")


def stop_server(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Stop the server we started, by its PID."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(timeout=15)
    return proc.returncode


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A whole cluster: API server, controller manager, scheduler and three simulated
    nodes, with short node-failure timeouts so tests see evictions quickly."""
    s = start_server(tmp_path_factory.mktemp("cluster"), command="up",
                     extra=("--nodes", "0", "--simulated-nodes", "3", "--pod-eviction-timeout", "5",
                            "--pod-gc-quarantine", "3"))
    yield s
    stop_server(s.proc)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("kapi"))
    yield s
    stop_server(s.proc)


# -- kubectl ---------------------------------------------------------------------------
def _kubectl_candidates() -> list[Path]:
    spec = os.environ.get("KAPI_KUBECTL")
    paths: list[Path] = []
    if spec:
        for p in spec.split(os.pathsep):
            pp = Path(p)
            paths += sorted(pp.glob("kubectl*")) if pp.is_dir() else [pp]
    else:
        paths += sorted(SDK_DIR.glob("kubectl.1.*"))
        on_path = shutil.which("kubectl")
        if on_path:
            paths.append(Path(on_path))
    return [p for p in paths if p.is_file() and os.access(p, os.X_OK)]


def _version_of(binary: Path) -> str | None:
    try:
        out = subprocess.run([str(binary), "version", "--client", "-o", "json"],
                             capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'"minor":\s*"(\d+)', out)
    return f"1.{m.group(1)}" if m else None


_KUBECTLS: dict[str, Path] | None = None


def kubectls() -> dict[str, Path]:
    global _KUBECTLS
    if _KUBECTLS is None:
        found: dict[str, Path] = {}
        for p in _kubectl_candidates():
            v = _version_of(p)
            if v and v not in found:
                found[v] = p
        _KUBECTLS = found
    return _KUBECTLS


@dataclass
class Kubectl:
    version: str
    binary: Path
    kubeconfig: Path

    def run(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        e = dict(os.environ, KUBECONFIG=str(self.kubeconfig), **(env or {}))
        e.pop("KUBERNETES_SERVICE_HOST", None)
        p = subprocess.run([str(self.binary), *args], input=input, capture_output=True,
                           text=True, timeout=timeout, env=e)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {self.version} {' '.join(args)} failed "
                                 f"({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    def __call__(self, *args: str, **kw: object) -> str:
        return self.run(*args, **kw).stdout  # type: ignore[arg-type]


def kubectl_or_skip(version: str, kubeconfig: Path) -> Kubectl:
    """Real kubectl `version` pointed at `kubeconfig`; the test is skipped where that
    version is not installed."""
    found = kubectls()
    if version not in found:
        pytest.skip(f"kubectl {version} is not installed")
    return Kubectl(version, found[version], kubeconfig)


@pytest.fixture(params=WANTED_KUBECTL, scope="session")
def kubectl(request: pytest.FixtureRequest, server: Server) -> Kubectl:
    return kubectl_or_skip(request.param, server.kubeconfig)


# -- the official Python client ---------------------------------------------------------
@pytest.fixture(scope="session")
def api_client(server: Server):  # type: ignore[no-untyped-def]
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=cfg)
    with client.ApiClient(cfg) as c:
        yield c


_counter = iter(range(1, 1_000_000))


@pytest.fixture
def ns(server: Server) -> Iterator[str]:
    """A fresh namespace per test (created over HTTP, like a user would)."""
    name = f"t{os.getpid() % 1000}-{next(_counter)}"
    with server.client() as c:
        r = c.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": name}})
        assert r.status_code == 201, r.text
    yield name


# -- the shared whole cluster -----------------------------------------------------------
@pytest.fixture(scope="session")
def api(cluster: Server):  # type: ignore[no-untyped-def]
    """The official Python client against the shared `cluster`."""
    from tests.helpers import api_for

    with api_for(cluster.kubeconfig) as c:
        yield c


@pytest.fixture(params=WANTED_KUBECTL)
def kctl(request: pytest.FixtureRequest, cluster: Server) -> Kubectl:
    """Real kubectl (1.27 and 1.33) against the shared `cluster`."""
    return kubectl_or_skip(request.param, cluster.kubeconfig)
