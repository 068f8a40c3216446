"""The `kapi` command: `kapi up` (the whole cluster) and `kapi apiserver` (the API
server alone). Later components (scheduler, controllers, kubelets) join `kapi up`.

This is the only place that reads the command line and signals.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, Callable, TypedDict

from kapi import malloc
from kapi.config import Config, default_data_dir


def kubeconfigs(config: Config) -> Any:
    """The writer of this data dir's kubeconfigs (kapi/auth/kubeconfigs.py): client
    certificates from the data dir's CA, or none over plain HTTP."""
    from kapi.auth.kubeconfigs import Kubeconfigs
    from kapi.auth.pki import ClusterPKI
    pki = None if config.insecure_http else ClusterPKI(config.pki_dir)
    return Kubeconfigs(config.data_dir, config.server_url, pki)


def write_kubeconfig(config: Config) -> Path | None:
    """The admin's kubeconfig, and one per component under kubeconfigs/; none when
    clients are verified against another CA (--client-ca-file) than the data dir's."""
    from kapi.auth.kubeconfigs import COMPONENTS
    if config.client_ca_file and not config.insecure_http and \
            config.client_ca_file.resolve() != (config.pki_dir / "ca.crt").resolve():
        return None
    writer = kubeconfigs(config)
    for name in COMPONENTS:
        writer.component(name)
    path: Path = writer.admin()
    return path


def make_data_dir(path: Path) -> None:
    """The data dir holds the database and an admin kubeconfig: 0700 whatever the
    umask (a directory kapi did not create keeps its mode; its files stay 0600)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)


def warn_if_exposed(host: str, insecure: bool) -> None:
    """Over plain HTTP every client is an anonymous cluster admin: say so loudly when
    the server listens beyond loopback."""
    if not insecure or host in ("127.0.0.1", "::1", "localhost") or host.startswith("127."):
        return
    bar = "!" * 78
    print(f"{bar}\nkapi: WARNING: listening on {host} WITHOUT AUTHENTICATION OR TLS.\n"
          "kapi: anyone who can reach this port is cluster admin: can read every Secret,\n"
          "kapi: run pods as root on every node, and delete anything. Use --host 127.0.0.1\n"
          f"kapi: unless every machine on this network is trusted.\n{bar}",
          file=sys.stderr, flush=True)


def _quiet_cancelled(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """At shutdown, Python 3.11's stream callback reports each connection still open as
    an 'exception' that is only its cancellation; everything else is logged as usual."""
    if isinstance(context.get("exception"), asyncio.CancelledError):
        return
    loop.default_exception_handler(context)


def _check_port_free(host: str, port: int) -> None:
    """Fail with a clear message, before anything starts, if the port is taken."""
    import socket
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise OSError(f"cannot listen on {host}:{port}: {e.strerror}") from None


def tune_gc_for_serving() -> None:
    """Process-wide collector settings, made here at the entry point and not by APIServer
    (tests build many servers in one process). The server holds many long-lived objects
    (the OpenAPI definitions, the watch cache): collect the young generation rarely, as full
    collections over them show up as 100-200 ms latency spikes."""
    gc.set_threshold(50_000, 20, 100)


async def _freeze_when_loaded(loaded: asyncio.Event) -> None:
    """Once the watch cache holds the stored objects, move everything alive out of the
    collector's view (gc.freeze): those objects live as long as the process."""
    await loaded.wait()
    gc.freeze()


# What `kapi up` starts besides the API server, from its flags.
Wanted = TypedDict("Wanted", {"controller-manager": bool, "scheduler": bool,
                              "simulated_nodes": int, "nodes": int | None,
                              "node_flags": argparse.Namespace, "options": Any,
                              "proxy": bool, "cluster_dns": str,
                              "apiservers": list[list[str]]},
                   total=False)


async def serve(config: Config, *, announce: bool,
                components_wanted: Wanted | None = None, write_kubeconfigs: bool = True) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve

    from kapi.app import build_app
    from kapi.http1 import disable_h2c
    from kapi.serving import hypercorn_config, tls_files

    _check_port_free(config.host, config.port)
    make_data_dir(config.data_dir)
    warn_if_exposed(config.host, config.insecure_http)
    disable_h2c()
    app = build_app(config)
    freeze = asyncio.create_task(_freeze_when_loaded(app.state.server.cache.ready))
    hc = hypercorn_config(config.host, config.port,
                          None if config.insecure_http else tls_files(config),
                          app.state.server.peers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.set_exception_handler(_quiet_cancelled)
    kubeconfig = write_kubeconfig(config) if write_kubeconfigs else None
    if announce:
        print(f"kapi: API server on {config.server_url} (data in {config.data_dir})", flush=True)
        if kubeconfig is not None:
            print(f"export KUBECONFIG={kubeconfig}", flush=True)
    server_down = asyncio.Event()
    server_task = asyncio.create_task(
        hypercorn_serve(app, hc, shutdown_trigger=server_down.wait))  # type: ignore[arg-type]
    tasks: list[asyncio.Task[None]] = []
    clients: list[Any] = []
    if components_wanted:
        tasks, clients = await start_components(config, components_wanted)
    extras = _extra_apiservers(config, components_wanted or {}, kubeconfig)
    stopping = asyncio.create_task(stop.wait())
    failed = await _until_stopped(stopping, server_task, tasks)
    freeze.cancel()  # a no-op once the cache has loaded
    if server_task.done():  # the server could not start (e.g. the port is taken)
        if extras is not None:
            extras.stop()
        stopping.cancel()
        for t in tasks:
            t.cancel()
        await server_task
        return
    # components first, so their connections close before the server goes away; the
    # service proxy last, after the server: its stop removes the ClusterIP rules (and
    # blackholes the service range), which would strand the closing handshakes of
    # clients that reached the server through the `kubernetes` ClusterIP
    proxies = [t for t in tasks if t.get_name() == PROXY_TASK]
    others = [t for t in tasks if t not in proxies]
    stuck = await _cancel_within(others)
    if extras is not None:
        await asyncio.to_thread(extras.stop)
    server_down.set()
    await server_task
    stuck |= await _cancel_within(proxies)
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    if stuck:
        # a component that does not take its cancellation (seen now and then with a
        # Docker kubelet; cause not found yet) would hold the exit for ever: the API
        # server and the proxy have stopped cleanly, so leave without it
        names = ", ".join(sorted(t.get_name() for t in stuck))
        print(f"kapi: {names} did not stop within {STOP_TIMEOUT:.0f} s of the signal; "
              "exiting without it", file=sys.stderr, flush=True)
        logging.shutdown()
        os._exit(1 if failed is not None else 0)
    if failed is not None:  # a component (e.g. a controller that could not start) failed
        print(f"kapi: {failed}", file=sys.stderr)
        raise SystemExit(1)


def _extra_apiservers(config: Config, wanted: Wanted, kubeconfig: Path | None) -> Any:
    """`kapi up --apiservers N`: start the other N-1 (kapi/apiservers.py), once this
    one is ready (start_components waited for it)."""
    argvs = wanted.get("apiservers") or []
    if not argvs:
        return None
    from kapi.apiservers import ExtraServers, add_contexts
    extras = ExtraServers(argvs, config.data_dir)
    extras.start()
    host = config.server_url.rsplit(":", 1)[0]
    urls = [f"{host}:{argv[argv.index('--port') + 1]}" for argv in argvs]
    if kubeconfig is not None:
        add_contexts(kubeconfig, urls)
    print(f"kapi: more API servers on {', '.join(urls)} (kubeconfig contexts "
          f"kapi-apiserver-2..{len(urls) + 1})", flush=True)
    return extras


async def _until_stopped(stopping: asyncio.Task[Any], server: asyncio.Task[Any],
                         components: list[asyncio.Task[None]]) -> BaseException | None:
    """Wait for a signal, the server's end, or a component's failure (returned)."""
    watched = {stopping, server, *components}
    while not (stopping.done() or server.done()):
        done, watched = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t in components and not t.cancelled() and t.exception() is not None:
                return t.exception()
    return None


async def _wait_ready(url: str, verify: Any, timeout: float = 30) -> None:
    import httpx
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(verify=verify) as c:
        while True:
            try:
                if (await c.get(url + "/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError("the API server did not become ready")
            await asyncio.sleep(0.05)


async def start_components(config: Config, wanted: Wanted
                           ) -> tuple[list[asyncio.Task[None]], list[Any]]:
    """The cluster's other components, each an API client with its own connection pool,
    talking to the API server over HTTP like any client, each with its own identity (a
    kubeconfig under <data-dir>/kubeconfigs/). Returns (tasks, clients)."""
    from runtime.client.kubeconfig import load
    from runtime.client.rest import Client

    identities = kubeconfigs(config)
    await _wait_ready(config.server_url, load(identities.component("scheduler")).ssl_context
                      or True)
    tasks: list[asyncio.Task[None]] = []
    clients: list[Client] = []

    def client(agent: str, identity: str = "") -> Client:
        """A client as `identity`: a component's name, or node:NAME for a kubelet."""
        kind, _, node = identity.partition(":")
        path = identities.node(node) if kind == "node" else identities.component(identity)
        clients.append(Client.from_kubeconfig(path, user_agent=agent))
        return clients[-1]

    control_plane: dict[str, asyncio.Task[None]] = {}
    if wanted.get("controller-manager"):
        from runtime.controllers.manager import run_controller_manager
        tasks.append(asyncio.create_task(run_controller_manager(
            client("kapi-controller-manager", "controller-manager"), options=wanted.get("options"))))
        control_plane["kube-controller-manager"] = tasks[-1]
    if wanted.get("scheduler"):
        from runtime.scheduler.run import run_scheduler
        tasks.append(asyncio.create_task(run_scheduler(client("kapi-scheduler", "scheduler"))))
        control_plane["kube-scheduler"] = tasks[-1]
    docker_nodes = _docker_nodes(wanted, client)
    proxy, dns = _proxy(config, wanted, len(docker_nodes), client), _dns(wanted, client)
    tasks += docker_nodes + proxy + dns
    # the service proxy and the cluster DNS show in kube-system too, by their usual names
    for name, started in (("kube-proxy", proxy), ("kube-dns", dns)):
        if started:
            control_plane[name] = started[0]
    if docker_nodes:  # the first Docker node is this host: the control plane's node
        # upstream's kubelet writes mirror pods: this host's node does
        tasks.append(_mirror_pods(client("kapi-mirror-pods", "node:kapi-node-1"),
                                  control_plane))
    nodes = int(wanted.get("simulated_nodes") or 0)
    if nodes:
        from runtime.kubelet.simulated import run_simulated_nodes
        tasks.append(asyncio.create_task(run_simulated_nodes(
            client("kapi-kubelet-simulated", "simulated-nodes"), count=nodes, prefix="kapi-sim-")))
    return tasks, clients


def _mirror_pods(client: Any, control_plane: dict[str, asyncio.Task[None]]
                 ) -> asyncio.Task[None]:
    """kube-system's mirror pods of the components this process runs (the API server
    runs as long as the process does), on the host's node kapi-node-1."""
    from runtime.controlplane.mirrorpods import publish
    alive = {"kube-apiserver": lambda: True} | {
        name: (lambda t=task: not t.done()) for name, task in control_plane.items()}
    return asyncio.create_task(publish(client, node_name="kapi-node-1", components=alive))


NO_DOCKER_HINT = ("as root: apt-get install -y docker.io busybox-static && "
                  "setsid dockerd >/tmp/dockerd.log 2>&1 &  (or `make docker-env`)")


def _docker_nodes(wanted: Wanted, client: Any) -> list[asyncio.Task[None]]:
    """Docker-backed nodes kapi-node-1..N; without a reachable engine, one line saying so
    (the control plane and the simulated nodes still start)."""
    count = wanted.get("nodes")
    if count == 0:
        return []
    from runtime.kubelet.docker import engine_reachable
    reason = engine_reachable()
    if reason is not None:
        print(f"kapi: no Docker engine reachable ({reason}); starting no Docker-backed "
              f"node. Fix: {NO_DOCKER_HINT}", flush=True)
        return []
    from runtime.kubelet.kubelet import run_docker_kubelet
    flags = _node_flags(wanted["node_flags"])
    return [asyncio.create_task(run_docker_kubelet(
        client(f"kapi-kubelet/kapi-node-{i}", f"node:kapi-node-{i}"),
        _kubelet_config(f"kapi-node-{i}", 0, flags, wanted.get("cluster_dns", ""))),
        name=f"kubelet-kapi-node-{i}")
        for i in range(1, int(count if count is not None else 1) + 1)]


PROXY_TASK = "kapi-proxy"
STOP_TIMEOUT = 20.0  # seconds a component has to stop once cancelled


async def _cancel_within(tasks: list[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Cancel the tasks and wait up to STOP_TIMEOUT; the ones still running."""
    for t in tasks:
        t.cancel()
    if not tasks:
        return set()
    _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT)
    return pending


def _proxy(config: Config, wanted: Wanted, nodes: int, client: Any) -> list[asyncio.Task[None]]:
    """One `kapi proxy` for the host the Docker nodes share (they share its network)."""
    if not nodes or not wanted.get("proxy", True):
        return []
    from runtime.proxy.proxier import ProxyOptions, iptables_usable, run_proxy
    reason = iptables_usable()
    if reason is not None:
        print(f"kapi: not starting the service proxy ({reason}): ClusterIPs and NodePorts "
              "will not answer", flush=True)
        return []
    options = ProxyOptions(service_cidr=config.service_cidr, node_names=tuple(
        f"kapi-node-{i}" for i in range(1, nodes + 1)))
    return [asyncio.create_task(run_proxy(client("kapi-proxy", "proxy"), options),
                                name=PROXY_TASK)]


def _node_flags(args: argparse.Namespace) -> Any:
    from runtime.kubelet.nodeinfo import NodeFlags
    return NodeFlags(cpu=args.node_cpu or "", memory=args.node_memory or "",
                     pods=str(args.node_max_pods))


def _kubelet_config(name: str, port: int, flags: Any, cluster_dns: str = "") -> Any:
    from runtime.kubelet.kubelet import KubeletConfig
    return KubeletConfig(node_name=name, port=port, flags=flags, cluster_dns=tuple(
        ip for ip in cluster_dns.split(",") if ip))


def _dns(wanted: Wanted, client: Any) -> list[asyncio.Task[None]]:
    """kapi's cluster DNS behind the kube-dns Service."""
    if not wanted.get("cluster_dns"):
        return []
    from runtime.dns.server import DNSOptions, serve_dns
    return [asyncio.create_task(serve_dns(client("kapi-dns", "dns"), DNSOptions()))]


def _proxy_possible() -> bool:
    """Without a proxy (not root, no iptables) kube-dns's ClusterIP answers nothing: pods
    then keep the host's resolv.conf rather than a dead nameserver."""
    from runtime.proxy.proxier import iptables_usable
    return iptables_usable() is None


def kube_dns_ip(service_cidr: str) -> str:
    """The kube-dns ClusterIP: the service CIDR's tenth address, as is usual."""
    import ipaddress
    return str(ipaddress.ip_network(service_cidr).network_address + 10)


def _node_capacity_flags(s: argparse.ArgumentParser) -> None:
    s.add_argument("--node-cpu", default="", help="cpu capacity each Docker node reports "
                   "(default: the host's; set it when several nodes share one host)")
    s.add_argument("--node-memory", default="", help="memory capacity each Docker node "
                   "reports, e.g. 4Gi (default: the host's)")
    s.add_argument("--node-max-pods", type=int, default=110)


def _server_flags(s: argparse.ArgumentParser) -> None:
    s.add_argument("--authorization-mode", default="Node,RBAC",
                   help="ordered authorizers: AlwaysAllow, AlwaysDeny, Node, RBAC "
                        "(default Node,RBAC; system:masters may do anything)")
    s.add_argument("--token-auth-file", type=Path, default=None,
                   help="static bearer tokens, CSV: token,user,uid,\"group1,group2\"")
    s.add_argument("--data-dir", type=Path, default=None,
                   help="where state and the kubeconfig live (default ~/.kapi or XDG)")
    s.add_argument("--port", type=int, default=6443)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--storage", default="sqlite", choices=("sqlite", "memory", "etcd"))
    s.add_argument("--etcd-servers", default="http://127.0.0.1:2379", metavar="URL[,URL...]",
                   help="etcd members' client URLs, for --storage etcd")
    s.add_argument("--etcd-prefix", default="/registry",
                   help="root of every key in etcd (upstream's default: /registry)")
    s.add_argument("--etcd-cafile", default=None, help="CA bundle that signed etcd's certificate")
    s.add_argument("--etcd-certfile", default=None, help="client certificate for etcd (TLS)")
    s.add_argument("--etcd-keyfile", default=None, help="client key for etcd (TLS)")
    s.add_argument("--compact-interval", type=float, default=60.0,
                   help="seconds between compactions of old revisions (default: %(default)s)")
    s.add_argument("--compact-keep", type=int, default=10_000,
                   help="revisions kept behind the newest at each compaction "
                        "(default: %(default)s)")
    s.add_argument("--compact-keep-seconds", type=float, default=300.0,
                   help="seconds of history kept at each compaction, besides --compact-keep "
                        "(default: %(default)s)")
    s.add_argument("--metric-resolution", type=float, default=15.0, metavar="SECONDS",
                   help="seconds between scrapes of every kubelet's usage for metrics.k8s.io "
                        "(metrics-server's flag; default: %(default)s)")
    s.add_argument("--watch-cache-events", "--watch-cache-capacity", dest="watch_cache_capacity",
                   type=int, default=100_000, metavar="N",
                   help="most events the watch cache keeps for watches resuming from the "
                        "past (default: %(default)s); older ones get 410 Expired")
    s.add_argument("--watch-cache-bytes", type=_size, default=256 * 1024 * 1024, metavar="SIZE",
                   help="most memory those events may take, also the most a watcher that "
                        "stops reading may hold back; bytes, or with Ki/Mi/Gi "
                        "(default: 256Mi)")
    s.add_argument("--service-cidr", default="10.96.0.0/12",
                   help="the range ClusterIPs come from (default: %(default)s); the "
                        "`kubernetes` Service gets its first address, kube-dns its tenth")
    s.add_argument("--service-node-port-range", type=_port_range, default=(30000, 32767),
                   metavar="LOW-HIGH", help="the range NodePorts come from "
                                            "(default: 30000-32767)")
    _service_account_flags(s)
    s.add_argument("--insecure-http", action="store_true",
                   help="serve plain HTTP without TLS or authentication: every caller is the "
                        "cluster admin (default: HTTPS, client certificates from the data "
                        "dir's CA, anonymous callers only on /healthz, /livez, /readyz, "
                        "/version)")
    s.add_argument("--tls-cert-file", type=Path, default=None,
                   help="serving certificate (default: <data-dir>/pki/apiserver.crt, made "
                        "from the data dir's CA on first start)")
    s.add_argument("--tls-private-key-file", type=Path, default=None,
                   help="key of --tls-cert-file")
    s.add_argument("--client-ca-file", type=Path, default=None,
                   help="CA bundle client certificates are verified against (default: "
                        "<data-dir>/pki/ca.crt); with another CA, no kubeconfig is written")
    # benchmarks only: an unvalidated, undefaulted (and untracked) write path as baseline
    s.add_argument("--encryption-provider-config", type=Path, default=None, metavar="FILE",
                   help="an EncryptionConfiguration (apiserver.config.k8s.io/v1) for data "
                   "at rest")
    s.add_argument("--encrypt-secrets", action="store_true",
                   help="encrypt Secrets with AES-GCM under a key kept in the data dir")
    s.add_argument("--audit-log-path", type=Path, default=None, metavar="FILE",
                   help="write audit.k8s.io/v1 Events here, one JSON line each ('-': stdout)")
    s.add_argument("--audit-policy-file", type=Path, default=None, metavar="FILE",
                   help="the audit Policy (audit.k8s.io/v1) choosing each request's level")
    s.add_argument("--admission-control-config-file", type=Path, default=None, metavar="FILE",
                   help="an AdmissionConfiguration (PodSecurity's defaults and exemptions)")
    s.add_argument("--unsafe-no-validation", action="store_true", help=argparse.SUPPRESS)
    s.add_argument("--unsafe-no-managed-fields", action="store_true", help=argparse.SUPPRESS)
    # an extra API server of `kapi up --apiservers N` (kapi/apiservers.py): writes no
    # kubeconfig, and stops when its parent does
    s.add_argument("--extra-apiserver", action="store_true", help=argparse.SUPPRESS)


def _service_account_flags(s: argparse.ArgumentParser) -> None:
    """upstream's service-account token flags (kube-apiserver)."""
    s.add_argument("--service-account-signing-key-file", type=Path, default=None,
                   help="the RSA private key that signs service-account tokens (default: "
                        "sa.key in the data dir, generated once)")
    s.add_argument("--service-account-key-file", type=Path, action="append", default=[],
                   help="a PEM file of public keys (or certificates, or private keys) that "
                        "also verify tokens; repeatable")
    s.add_argument("--service-account-issuer", action="append", default=[],
                   help="the token issuer (iss); repeatable: the first signs, all are "
                        "accepted (default: https://kubernetes.default.svc.cluster.local)")
    s.add_argument("--api-audiences", default="", metavar="AUD[,AUD...]",
                   help="audiences the API server accepts (default: the issuers)")
    s.add_argument("--service-account-max-token-expiration", type=_duration, default=0,
                   metavar="DURATION", help="the longest token a TokenRequest gets, e.g. "
                                            "24h (default: no cap)")
    s.add_argument("--service-account-extend-token-expiration", default="true",
                   choices=("true", "false"),
                   help="the kubelet's projected tokens live a year and warn after their "
                        "requested hour (default: %(default)s)")
    s.add_argument("--disable-admission-plugins", default="", metavar="NAME[,NAME...]",
                   help="admission plugins to switch off: ServiceAccount (for an API "
                        "server without a controller manager making default service "
                        "accounts)")


def _duration(text: str) -> int:
    """Whole seconds of a Go duration: 3600s, 24h, 1h30m."""
    import re
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not text or parts is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 24h, 3600s)")
    h, m, sec = (int(g or 0) for g in parts.groups())
    return h * 3600 + m * 60 + sec


def _size(text: str) -> int:
    """A byte count: 1048576, 512Ki, 256Mi, 1Gi."""
    units = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}
    factor = units.get(text[-2:], 1)
    try:
        return int(text[:-2] if factor > 1 else text) * factor
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 256Mi)") from None


def _port_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        return int(low), int(high if sep else low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port range: {text!r} (e.g. 30000-32767)") \
            from None


def _controller_flags(s: argparse.ArgumentParser) -> None:
    s.add_argument("--pod-eviction-timeout", type=float, default=300.0,
                   help="default tolerationSeconds for not-ready/unreachable nodes")
    s.add_argument("--node-monitor-grace-period", type=float, default=40.0,
                   help="seconds without a node heartbeat before the node is Unknown")
    s.add_argument("--node-startup-grace-period", type=float, default=60.0,
                   help="seconds a new node has to post its first heartbeat")
    s.add_argument("--pod-gc-quarantine", type=float, default=40.0,
                   help="seconds a node must be gone before its pods are force-deleted")
    s.add_argument("--horizontal-pod-autoscaler-sync-period", type=float, default=15.0,
                   metavar="SECONDS", help="how often each HorizontalPodAutoscaler is "
                   "reconciled (default: %(default)s)")
    s.add_argument("--horizontal-pod-autoscaler-downscale-stabilization", type=float,
                   default=300.0, metavar="SECONDS", help="the scale-down stabilization "
                   "window of autoscalers without a behavior (default: %(default)s)")
    s.add_argument("--service-account-private-key-file", default=None, metavar="FILE",
                   help="the PEM private key legacy service-account token Secrets are "
                        "signed with (`kapi up`: the API server's signing key)")
    s.add_argument("--root-ca-file", default="", metavar="FILE",
                   help="CA published to every namespace as kube-root-ca.crt (kapi up: "
                        "the data dir's cluster CA)")
    s.add_argument("--cluster-signing-cert-file", default="", metavar="FILE",
                   help="CA certificate the CSR signer issues with (kapi up: the data dir's)")
    s.add_argument("--cluster-signing-key-file", default="", metavar="FILE",
                   help="that CA's private key (kapi up: the data dir's)")
    s.add_argument("--cluster-signing-duration", type=_duration, default=365 * 24 * 3600,
                   metavar="DURATION", help="longest lifetime of a signed certificate")
    s.add_argument("--controllers", default="*",
                   help="controllers to run: '*' for all, 'name' to add, '-name' to leave out "
                        "(comma-separated)")
    s.add_argument("--use-service-account-credentials", action="store_true",
                   help="run each controller as its own service account in kube-system "
                        "(bound to its system:controller: role), as kubeadm sets upstream")


def _controller_options(args: argparse.Namespace) -> Any:
    from runtime.controllers.context import ControllerOptions
    from runtime.controllers.manager import select

    options = ControllerOptions(
        controllers=_csv(args.controllers),
        pod_eviction_timeout=args.pod_eviction_timeout,
        node_monitor_grace_period=args.node_monitor_grace_period,
        node_startup_grace_period=args.node_startup_grace_period,
        podgc_quarantine=args.pod_gc_quarantine,
        hpa_sync_period=args.horizontal_pod_autoscaler_sync_period,
        hpa_downscale_stabilization=args.horizontal_pod_autoscaler_downscale_stabilization,
        service_account_private_key_file=_private_key_file(args),
        root_ca_file=args.root_ca_file,
        cluster_signing_cert_file=args.cluster_signing_cert_file,
        cluster_signing_key_file=args.cluster_signing_key_file,
        cluster_signing_duration=float(args.cluster_signing_duration),
        use_service_account_credentials=args.use_service_account_credentials)
    select(options.controllers)
    return options


def _csv(value: str) -> tuple[str, ...]:
    """A comma-separated flag's values, blanks dropped (upstream's string-slice flags)."""
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _private_key_file(args: argparse.Namespace) -> str | None:
    """--service-account-private-key-file; `kapi up` gives its controllers the key its
    API server signs with."""
    if args.service_account_private_key_file or args.command != "up":
        return args.service_account_private_key_file
    from kapi.auth.sakeys import KEY_FILE
    signing = args.service_account_signing_key_file
    return str(signing or (args.data_dir or default_data_dir()) / KEY_FILE)


def _component_flags(s: argparse.ArgumentParser) -> None:
    s.add_argument("--kubeconfig", type=Path, default=None,
                   help="kubeconfig of the cluster (default: $KUBECONFIG, then ~/.kapi/kubeconfig)")
    s.add_argument("--leader-elect", default="true", choices=("true", "false"))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kapi", description="A Kubernetes-compatible cluster")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a whole cluster: API server, controllers, scheduler, nodes")
    _server_flags(up)
    up.add_argument("--simulated-nodes", type=int, default=0,
                    help="simulated (kwok-like) nodes to start")
    up.add_argument("--nodes", type=int, default=None,
                    help="Docker-backed nodes to start (default: 1 when a Docker engine "
                         "is reachable, else 0); their containers stay for adoption by the "
                         "next start")
    _node_capacity_flags(up)
    up.add_argument("--apiservers", type=int, default=1, metavar="N",
                    help="API servers to run (with --storage etcd): the others are `kapi "
                         "apiserver` processes on --port+1, ...; the kubeconfig gets a "
                         "context for each")
    up.add_argument("--no-controllers", action="store_true", help="start no controller manager")
    up.add_argument("--no-scheduler", action="store_true", help="start no scheduler")
    up.add_argument("--no-dns", action="store_true",
                    help="serve no cluster DNS (pods keep the host's resolv.conf)")
    up.add_argument("--no-proxy", action="store_true",
                    help="start no service proxy (no iptables rules for Services)")
    _controller_flags(up)
    _server_flags(sub.add_parser("apiserver", help="start the API server alone"))
    cm = sub.add_parser("controller-manager", help="start the controllers alone")
    _component_flags(cm)
    _controller_flags(cm)
    _component_flags(sub.add_parser("scheduler", help="start the scheduler alone"))
    sub.add_parser("conformance", add_help=False,
                   help="run the port of upstream's conformance suite against a cluster "
                        "(kapi conformance --help)")
    kl = sub.add_parser("kubelet", help="run one Docker-backed node alone")
    kl.add_argument("--node-name", required=True)
    kl.add_argument("--kubeconfig", type=Path, default=None,
                    help="kubeconfig of the cluster (default: $KUBECONFIG, then ~/.kapi/kubeconfig)")
    kl.add_argument("--port", type=int, default=0,
                    help="the kubelet endpoint port on the node IP, published on the Node "
                         "(default: a free one)")
    kl.add_argument("--cluster-dns", default="",
                    help="the cluster DNS address(es) pods get, comma-separated (kube-dns's "
                         "ClusterIP, e.g. 10.96.0.10; default: none, the host's resolv.conf)")
    kl.add_argument("--server", default="", metavar="https://HOST:PORT",
                    help="join this API server with --token (TLS bootstrapping: the node's "
                         "certificate comes from a CSR; written to --kubeconfig, default "
                         "<data-dir>/kubelet/NODE.kubeconfig)")
    kl.add_argument("--token", default="", help="a bootstrap token (kapi token create)")
    kl.add_argument("--ca-cert-hash", default="", metavar="sha256:HEX",
                    help="the cluster CA's public key hash the server must prove")
    kl.add_argument("--discovery-token-unsafe-skip-ca-verification", action="store_true",
                    help="join without --ca-cert-hash (trusts whatever CA the server shows)")
    _node_capacity_flags(kl)
    _token_parser(sub)
    st = sub.add_parser("storage", help="move a cluster's stored objects")
    mig = st.add_subparsers(dest="storage_command", required=True).add_parser(
        "migrate", help="copy a stopped SQLite cluster's objects into an empty etcd (uids, "
        "creation times and contents kept); then serve with --storage etcd and the same "
        "--data-dir (its CA and keys)")
    mig.add_argument("--from", dest="source", type=Path, required=True, metavar="DATA_DIR")
    mig.add_argument("--to", dest="target", required=True,
                     metavar="etcd://HOST:PORT[/prefix]", help="(etcds:// for TLS)")
    for flag in ("cafile", "certfile", "keyfile"):
        mig.add_argument(f"--etcd-{flag}", default=None)
    secrets = sub.add_parser("secrets", help="act on every Secret of a cluster, through its API")
    re = secrets.add_subparsers(dest="secrets_command", required=True).add_parser(
        "reencrypt", help="write every Secret back unchanged, so that each is stored with "
                          "the API server's current encryption key (after its encryption "
                          "configuration changed)")
    re.add_argument("--kubeconfig", type=Path, default=None,
                    help="kubeconfig of the cluster (default: $KUBECONFIG, then ~/.kapi/kubeconfig)")
    re.add_argument("-n", "--namespace", default=None, help="only this namespace's Secrets")
    px = sub.add_parser("proxy", help="run the service proxy (iptables rules) alone")
    _component_flags(px)
    px.add_argument("--service-cidr", default="10.96.0.0/12")
    px.add_argument("--pod-cidr", default="", help="(default: Docker's bridge subnet)")
    px.add_argument("--node-name", action="append", default=[],
                    help="a node on this host (for internalTrafficPolicy: Local)")
    return p


def _token_parser(sub: Any) -> None:
    tk = sub.add_parser("token", help="bootstrap tokens nodes join with (kubeadm token)")
    tsub = tk.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", help="create a bootstrap token and print it")
    create.add_argument("token", nargs="?", default="", help="(default: a random one)")
    create.add_argument("--kubeconfig", type=Path, default=None)
    create.add_argument("--ttl", type=_duration, default=24 * 3600,
                        help="lifetime, e.g. 24h (0: never expires)")
    create.add_argument("--usages", default="signing,authentication")
    create.add_argument("--groups", default="system:bootstrappers:kubeadm:default-node-token")
    create.add_argument("--description", default="")
    create.add_argument("--print-join-command", action="store_true")


async def _token_create(args: argparse.Namespace) -> int:
    import datetime as dt

    from kapi.auth import bootstraptoken
    from runtime.client.kubeconfig import load
    from runtime.client.resources import SECRETS
    from runtime.client.rest import ApiError, Client
    from runtime.kubelet.bootstrap import ca_cert_hash
    token = args.token or bootstraptoken.generate()
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=args.ttl) if args.ttl else None
    try:
        secret = bootstraptoken.secret_for(token, expiration=expires, usages=_csv(args.usages),
                                           groups=_csv(args.groups), description=args.description)
    except ValueError as e:
        print(f"kapi token create: {e}", file=sys.stderr)
        return 2
    path = _kubeconfig(args.kubeconfig)
    client = Client.from_kubeconfig(path, user_agent="kapi-token")
    try:
        await client.create(SECRETS, secret, bootstraptoken.NAMESPACE)
    except ApiError as e:
        print(f"kapi token create: {e}", file=sys.stderr)
        return 1
    finally:
        await client.close()
    if not args.print_join_command:
        print(token)
        return 0
    import base64

    import yaml
    cluster = yaml.safe_load(path.read_text())["clusters"][0]["cluster"]
    ca = base64.b64decode(cluster.get("certificate-authority-data", ""))
    pin = f" --ca-cert-hash {ca_cert_hash(ca)}" if ca else ""
    print(f"kapi kubelet --server {load(path).server} --token {token}{pin} --node-name NAME")
    return 0


def _storage_migrate(args: argparse.Namespace, run: Any) -> int:
    from kapi.storage import StorageError
    from kapi.storage.migrate import etcd_target, from_data_dir
    try:
        target = etcd_target(args.target, cafile=args.etcd_cafile, certfile=args.etcd_certfile,
                             keyfile=args.etcd_keyfile)
        copied = run(from_data_dir(args.source, target))
    except (ValueError, StorageError, OSError) as e:
        print(f"kapi storage migrate: {e}", file=sys.stderr)
        return 1
    print(f"kapi storage migrate: done, {copied} objects in {args.target}")
    return 0


def _kubeconfig(arg: Path | None) -> Path:
    import os
    if arg is not None:
        return arg
    env = os.environ.get("KUBECONFIG")
    return Path(env.split(os.pathsep)[0]) if env else default_data_dir() / "kubeconfig"


async def run_component(command: str, kubeconfig: Path, leader_elect: bool,
                        options: Any) -> int:
    from runtime.client.rest import Client

    client = Client.from_kubeconfig(kubeconfig, user_agent=f"kapi-{command}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if command == "proxy":
        from runtime.proxy.proxier import ProxyOptions, run_proxy
        task = asyncio.create_task(run_proxy(client, ProxyOptions(
            service_cidr=options.service_cidr, pod_cidr=options.pod_cidr,
            node_names=tuple(options.node_name))))
    elif command == "controller-manager":
        from runtime.controllers.manager import run_controller_manager
        task = asyncio.create_task(run_controller_manager(client, leader_elect=leader_elect,
                                                          options=options))
    else:
        from runtime.scheduler.run import run_scheduler
        task = asyncio.create_task(run_scheduler(client, leader_elect=leader_elect))
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    failed = task.done() and not task.cancelled() and task.exception() is not None
    if failed:
        print(f"kapi {command}: {task.exception()}", file=sys.stderr)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await client.close()
    return 1 if failed else 0


async def _join(args: argparse.Namespace) -> Path:
    """`kapi kubelet --server --token`: the kubeconfig TLS bootstrapping wrote."""
    from runtime.kubelet.bootstrap import join
    if not (args.ca_cert_hash or args.discovery_token_unsafe_skip_ca_verification):
        raise ValueError("--token needs --ca-cert-hash sha256:HEX (kapi token create "
                         "--print-join-command prints it), or "
                         "--discovery-token-unsafe-skip-ca-verification")
    path = args.kubeconfig or default_data_dir() / "kubelet" / f"{args.node_name}.kubeconfig"
    return await join(args.server, args.token, args.node_name, path,
                      pin=args.ca_cert_hash or None)


async def _reencrypt(kubeconfig: Path, namespace: str | None) -> int:
    from runtime.client.rest import ApiError, Client
    from runtime.controlplane.reencrypt import reencrypt

    client = Client.from_kubeconfig(kubeconfig, user_agent="kapi-secrets-reencrypt")
    try:
        print((await reencrypt(client, namespace)).summary())
        return 0
    except ApiError as e:
        print(f"kapi secrets reencrypt: {e}", file=sys.stderr)
        return 1
    finally:
        await client.close()


def _run_kubelet(args: argparse.Namespace, run: Any) -> int:
    from runtime.kubelet.docker import engine_reachable
    reason = engine_reachable()
    if reason is not None:
        print(f"kapi: no Docker engine reachable ({reason}). Fix: {NO_DOCKER_HINT}",
              file=sys.stderr)
        return 1
    if bool(args.server) != bool(args.token):
        print("kapi kubelet: --server and --token go together", file=sys.stderr)
        return 2
    config = _kubelet_config(args.node_name, args.port, _node_flags(args), args.cluster_dns)

    async def main() -> None:
        from runtime.client.rest import Client
        from runtime.kubelet.kubelet import run_docker_kubelet
        kubeconfig = await _join(args) if args.token else _kubeconfig(args.kubeconfig)
        client = Client.from_kubeconfig(kubeconfig, user_agent=f"kapi-kubelet/{args.node_name}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        task = asyncio.create_task(run_docker_kubelet(client, config))
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()
    from runtime.kubelet.bootstrap import BootstrapError
    try:
        run(main())
    except (BootstrapError, ValueError) as e:
        print(f"kapi kubelet: {e}", file=sys.stderr)
        return 1
    return 0


def _service_account_config(args: argparse.Namespace) -> dict[str, Any]:
    issuers = tuple(args.service_account_issuer) or Config.service_account_issuers
    return {"service_account_signing_key_file": args.service_account_signing_key_file,
            "service_account_key_files": tuple(args.service_account_key_file),
            "service_account_issuers": issuers,
            "api_audiences": _csv(args.api_audiences),
            "service_account_max_token_expiration": args.service_account_max_token_expiration,
            "service_account_extend_token_expiration":
                args.service_account_extend_token_expiration == "true",
            "disable_admission_plugins": _csv(args.disable_admission_plugins)}
def _apiserver_argvs(args: argparse.Namespace, config: Config) -> list[list[str]]:
    """The flags of `kapi up --apiservers N`'s other API servers (ValueError when they
    cannot run: not on etcd, or a port taken)."""
    if args.apiservers <= 1:
        return []
    if config.storage != "etcd":
        raise ValueError("--apiservers needs --storage etcd (the servers share one etcd)")
    from kapi.apiservers import server_argv
    flags = argparse.ArgumentParser(add_help=False)
    _server_flags(flags)
    ports = [config.port + i for i in range(1, args.apiservers)]
    for port in ports:
        _check_port_free(config.host, port)
    return [server_argv(flags, args, port, formats={_duration: lambda v: f"{v}s"})
            for port in ports]


def _with_root_ca(options: Any, config: Config) -> Any:
    """`kapi up`'s controllers publish the CA its serving certificate chains to (the
    data dir's, unless --tls-cert-file or --root-ca-file say otherwise)."""
    import dataclasses
    if options is None or config.insecure_http or config.tls_cert_file:
        return options
    if not options.cluster_signing_cert_file:  # the CSR signer issues with the same CA
        options = dataclasses.replace(
            options, cluster_signing_cert_file=str(config.pki_dir / "ca.crt"),
            cluster_signing_key_file=str(config.pki_dir / "ca.key"))
    if options.root_ca_file:
        return options
    return dataclasses.replace(options, root_ca_file=str(config.pki_dir / "ca.crt"))


def _toleration_seconds(args: argparse.Namespace) -> int:
    """`kapi up` evicts pods from unreachable nodes after --pod-eviction-timeout: the
    default tolerations of new pods say the same."""
    timeout = getattr(args, "pod_eviction_timeout", None)
    return max(int(timeout), 0) if timeout is not None else 300


def _check_config_files(config: Config) -> None:
    """The encryption configuration and audit policy read before serving: a bad one is
    a one-line error (ValueError), never a traceback."""
    import yaml

    from kapi.admission.podsecurity.config import load as load_admission
    from kapi.endpoints.audit import load_policy
    from kapi.storage.encryption import load
    for path, read in ((config.encryption_provider_config, load),
                       (config.audit_policy_file, load_policy),
                       (config.admission_control_config_file, load_admission)):
        if path is not None:
            try:
                read(path)
            except (OSError, yaml.YAMLError) as e:
                raise ValueError(f"{path}: {e}") from None


def _conformance(argv: list[str]) -> int:
    """`kapi conformance ...` is `python -m conformance.run ...` (conformance/run.py)."""
    try:  # loaded by name: an optional tool of the checkout, outside kapi's typed code
        conformance_run = importlib.import_module("conformance.run")
    except ImportError as e:
        print(f"kapi conformance: {e}: it needs the official Python client "
              "(pip install 'kapi[test]', or `make test` in a checkout)", file=sys.stderr)
        return 2
    conformance_run.exit_now(conformance_run.main(argv))
    return 0  # not reached: exit_now exits


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["conformance"]:  # its own options, parsed by conformance.run
        return _conformance(argv[1:])
    args = _parser().parse_args(argv)
    malloc.tune()  # before the first large object: freed memory goes back to the system
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run: Callable[..., Any]  # uvloop.run or asyncio.run
    try:
        import uvloop
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    if args.command == "kubelet":
        return _run_kubelet(args, run)
    if args.command == "token":
        return int(run(_token_create(args)))
    if args.command == "storage":
        return _storage_migrate(args, run)
    if args.command == "secrets":
        return int(run(_reencrypt(_kubeconfig(args.kubeconfig), args.namespace)))
    try:
        opts = _controller_options(args) if hasattr(args, "controllers") else None
    except (ValueError, RuntimeError) as e:
        print(f"kapi: {e}", file=sys.stderr)
        return 2
    if args.command in ("controller-manager", "scheduler", "proxy"):
        return run(run_component(args.command, _kubeconfig(args.kubeconfig),
                                 args.leader_elect == "true",
                                 args if args.command == "proxy" else opts))
    try:
        config = Config(host=args.host, port=args.port,
                        data_dir=args.data_dir or default_data_dir(), storage=args.storage,
                        etcd_servers=_csv(args.etcd_servers),
                        etcd_prefix=args.etcd_prefix, etcd_cafile=args.etcd_cafile,
                        etcd_certfile=args.etcd_certfile, etcd_keyfile=args.etcd_keyfile,
                        compact_interval=args.compact_interval, compact_keep=args.compact_keep,
                        compact_keep_seconds=args.compact_keep_seconds,
                        metric_resolution=args.metric_resolution,
                        watch_cache_capacity=args.watch_cache_capacity,
                        watch_cache_bytes=args.watch_cache_bytes,
                        service_cidr=args.service_cidr,
                        service_node_port_range=args.service_node_port_range,
                        validation=not args.unsafe_no_validation,
                        managed_fields=not args.unsafe_no_managed_fields,
                        default_toleration_seconds=_toleration_seconds(args),
                        authorization_modes=_csv(args.authorization_mode),
                        token_auth_file=args.token_auth_file,
                        encryption_provider_config=args.encryption_provider_config,
                        encrypt_secrets=args.encrypt_secrets,
                        audit_log_path=args.audit_log_path,
                        audit_policy_file=args.audit_policy_file,
                        admission_control_config_file=args.admission_control_config_file,
                        insecure_http=args.insecure_http, tls_cert_file=args.tls_cert_file,
                        tls_private_key_file=args.tls_private_key_file,
                        client_ca_file=args.client_ca_file,
                        **_service_account_config(args))
        _check_config_files(config)
    except ValueError as e:
        print(f"kapi: {e}", file=sys.stderr)
        return 2
    wanted: Wanted = {}
    if args.command == "up":
        wanted = {"controller-manager": not args.no_controllers,
                  "scheduler": not args.no_scheduler,
                  "simulated_nodes": args.simulated_nodes,
                  "nodes": args.nodes, "node_flags": args, "proxy": not args.no_proxy,
                  "cluster_dns": "" if args.no_dns or not _proxy_possible() else
                  kube_dns_ip(config.service_cidr),
                  "options": _with_root_ca(opts, config)}
        try:
            wanted["apiservers"] = _apiserver_argvs(args, config)
        except (ValueError, OSError) as e:
            print(f"kapi: {e}", file=sys.stderr)
            return 2
    if args.extra_apiserver:  # an extra server of `kapi up --apiservers N`
        from kapi.apiservers import die_with_parent
        die_with_parent()
    tune_gc_for_serving()
    try:
        run(serve(config, announce=True, components_wanted=wanted,
                  write_kubeconfigs=not args.extra_apiserver))
    except OSError as e:
        print(f"kapi: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
