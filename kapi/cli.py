"""The `kapi` command: `kapi up` (the whole cluster) and `kapi apiserver` (the API
server alone). Later components (scheduler, controllers, kubelets) join `kapi up`.

This is the only place that reads the command line and signals.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from kapi.config import Config, default_data_dir


def write_kubeconfig(config: Config) -> Path:
    """An admin kubeconfig for this server (plain HTTP on loopback for now)."""
    kc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kapi", "cluster": {"server": config.server_url}}],
        "users": [{"name": "kapi-admin", "user": {}}],
        "contexts": [{"name": "kapi", "context": {"cluster": "kapi", "user": "kapi-admin",
                                                 "namespace": "default"}}],
        "current-context": "kapi",
        "preferences": {},
    }
    path = config.kubeconfig_path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(kc, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)
    return path


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


async def serve(config: Config, *, announce: bool,
                components_wanted: dict[str, object] | None = None) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config as HyperConfig

    from kapi.app import build_app

    _check_port_free(config.host, config.port)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(config)
    hc = HyperConfig()
    hc.bind = [f"{config.host}:{config.port}"]
    hc.accesslog = None
    hc.errorlog = "-"
    hc.loglevel = "WARNING"
    hc.keep_alive_timeout = 90
    hc.keep_alive_max_requests = 1_000_000  # clients keep their connections (as Go's server)
    hc.graceful_timeout = 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.set_exception_handler(_quiet_cancelled)
    kubeconfig = write_kubeconfig(config)
    if announce:
        print(f"kapi: API server on {config.server_url} (data in {config.data_dir})", flush=True)
        print(f"export KUBECONFIG={kubeconfig}", flush=True)
    server_down = asyncio.Event()
    server_task = asyncio.create_task(
        hypercorn_serve(app, hc, shutdown_trigger=server_down.wait))  # type: ignore[arg-type]
    tasks, clients = [], []
    if components_wanted:
        tasks, clients = await start_components(config, components_wanted)
    stopping = asyncio.create_task(stop.wait())
    failed = await _until_stopped(stopping, server_task, tasks)
    if server_task.done():  # the server could not start (e.g. the port is taken)
        stopping.cancel()
        for t in tasks:
            t.cancel()
        await server_task
        return
    # components first, so their connections close before the server goes away
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    server_down.set()
    await server_task
    if failed is not None:  # a component (e.g. a controller that could not start) failed
        print(f"kapi: {failed}", file=sys.stderr)
        raise SystemExit(1)


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


async def _wait_ready(url: str, timeout: float = 30) -> None:
    import httpx
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient() as c:
        while True:
            try:
                if (await c.get(url + "/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError("the API server did not become ready")
            await asyncio.sleep(0.05)


async def start_components(config: Config, wanted: dict[str, object]
                           ) -> tuple[list[asyncio.Task[None]], list[Any]]:
    """The cluster's other components, each an API client with its own connection pool,
    talking to the API server over HTTP like any client. Returns (tasks, clients)."""
    from runtime.client.rest import Client

    await _wait_ready(config.server_url)
    tasks: list[asyncio.Task[None]] = []
    clients: list[Client] = []

    def client(agent: str) -> Client:
        clients.append(Client(config.server_url, user_agent=agent))
        return clients[-1]

    if wanted.get("controller-manager"):
        from runtime.controllers.manager import run_controller_manager
        tasks.append(asyncio.create_task(run_controller_manager(
            client("kapi-controller-manager"), options=wanted.get("options"))))  # type: ignore[arg-type]
    if wanted.get("scheduler"):
        from runtime.scheduler.run import run_scheduler
        tasks.append(asyncio.create_task(run_scheduler(client("kapi-scheduler"))))
    nodes = int(wanted.get("simulated_nodes") or 0)  # type: ignore[call-overload]
    if nodes:
        from runtime.kubelet.simulated import run_simulated_nodes
        tasks.append(asyncio.create_task(run_simulated_nodes(
            client("kapi-kubelet-simulated"), count=nodes, prefix="kapi-sim-")))
    return tasks, clients


def _server_flags(s: argparse.ArgumentParser) -> None:
    s.add_argument("--data-dir", type=Path, default=None,
                   help="where state and the kubeconfig live (default ~/.kapi or XDG)")
    s.add_argument("--port", type=int, default=6443)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--storage", default="sqlite", choices=("sqlite", "memory"))
    s.add_argument("--compact-interval", type=float, default=60.0,
                   help="seconds between compactions of old revisions")
    s.add_argument("--compact-keep", type=int, default=10_000,
                   help="revisions kept behind the newest at each compaction")
    s.add_argument("--compact-keep-seconds", type=float, default=300.0,
                   help="seconds of history kept at each compaction, besides --compact-keep")
    s.add_argument("--watch-cache-capacity", type=int, default=100_000,
                   help="events the watch cache keeps for watches resuming from the past")
    # benchmarks only: an unvalidated, undefaulted (and untracked) write path as baseline
    s.add_argument("--unsafe-no-validation", action="store_true", help=argparse.SUPPRESS)
    s.add_argument("--unsafe-no-managed-fields", action="store_true", help=argparse.SUPPRESS)


def _controller_flags(s: argparse.ArgumentParser) -> None:
    s.add_argument("--pod-eviction-timeout", type=float, default=300.0,
                   help="default tolerationSeconds for not-ready/unreachable nodes")
    s.add_argument("--node-monitor-grace-period", type=float, default=40.0,
                   help="seconds without a node heartbeat before the node is Unknown")
    s.add_argument("--node-startup-grace-period", type=float, default=60.0,
                   help="seconds a new node has to post its first heartbeat")
    s.add_argument("--pod-gc-quarantine", type=float, default=40.0,
                   help="seconds a node must be gone before its pods are force-deleted")
    s.add_argument("--controllers", default="*",
                   help="controllers to run: '*' for all, 'name' to add, '-name' to leave out "
                        "(comma-separated)")


def _controller_options(args: argparse.Namespace) -> Any:
    from runtime.controllers.context import ControllerOptions
    from runtime.controllers.manager import select

    options = ControllerOptions(
        controllers=tuple(c.strip() for c in args.controllers.split(",") if c.strip()),
        pod_eviction_timeout=args.pod_eviction_timeout,
        node_monitor_grace_period=args.node_monitor_grace_period,
        node_startup_grace_period=args.node_startup_grace_period,
        podgc_quarantine=args.pod_gc_quarantine)
    select(options.controllers)
    return options


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
    up.add_argument("--no-controllers", action="store_true", help="start no controller manager")
    up.add_argument("--no-scheduler", action="store_true", help="start no scheduler")
    _controller_flags(up)
    _server_flags(sub.add_parser("apiserver", help="start the API server alone"))
    cm = sub.add_parser("controller-manager", help="start the controllers alone")
    _component_flags(cm)
    _controller_flags(cm)
    _component_flags(sub.add_parser("scheduler", help="start the scheduler alone"))
    return p


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
    if command == "controller-manager":
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


def _toleration_seconds(args: argparse.Namespace) -> int:
    """`kapi up` evicts pods from unreachable nodes after --pod-eviction-timeout: the
    default tolerations of new pods say the same."""
    timeout = getattr(args, "pod_eviction_timeout", None)
    return max(int(timeout), 0) if timeout is not None else 300


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        import uvloop
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    try:
        opts = _controller_options(args) if hasattr(args, "controllers") else None
    except (ValueError, RuntimeError) as e:
        print(f"kapi: {e}", file=sys.stderr)
        return 2
    if args.command in ("controller-manager", "scheduler"):
        return run(run_component(args.command, _kubeconfig(args.kubeconfig),
                                 args.leader_elect == "true", opts))
    try:
        config = Config(host=args.host, port=args.port,
                        data_dir=args.data_dir or default_data_dir(), storage=args.storage,
                        compact_interval=args.compact_interval, compact_keep=args.compact_keep,
                        compact_keep_seconds=args.compact_keep_seconds,
                        watch_cache_capacity=args.watch_cache_capacity,
                        validation=not args.unsafe_no_validation,
                        managed_fields=not args.unsafe_no_managed_fields,
                        default_toleration_seconds=_toleration_seconds(args))
    except ValueError as e:
        print(f"kapi: {e}", file=sys.stderr)
        return 2
    wanted: dict[str, object] = {}
    if args.command == "up":
        wanted = {"controller-manager": not args.no_controllers,
                  "scheduler": not args.no_scheduler,
                  "simulated_nodes": args.simulated_nodes,
                  "options": opts}
    try:
        run(serve(config, announce=True, components_wanted=wanted))
    except OSError as e:
        print(f"kapi: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
