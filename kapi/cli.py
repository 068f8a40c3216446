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


async def serve(config: Config, *, announce: bool) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config as HyperConfig

    from kapi.app import build_app

    config.data_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(config)
    hc = HyperConfig()
    hc.bind = [f"{config.host}:{config.port}"]
    hc.accesslog = None
    hc.errorlog = "-"
    hc.loglevel = "WARNING"
    hc.keep_alive_timeout = 90
    hc.graceful_timeout = 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    kubeconfig = write_kubeconfig(config)
    if announce:
        print(f"kapi: API server on {config.server_url} (data in {config.data_dir})", flush=True)
        print(f"export KUBECONFIG={kubeconfig}", flush=True)
    await hypercorn_serve(app, hc, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kapi", description="A Kubernetes-compatible cluster")
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_ in (("up", "start a whole cluster"), ("apiserver", "start the API server alone")):
        s = sub.add_parser(name, help=help_)
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
        s.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = Config(host=args.host, port=args.port,
                        data_dir=args.data_dir or default_data_dir(), storage=args.storage,
                        compact_interval=args.compact_interval, compact_keep=args.compact_keep,
                        compact_keep_seconds=args.compact_keep_seconds,
                        watch_cache_capacity=args.watch_cache_capacity)
    except ValueError as e:
        print(f"kapi: {e}", file=sys.stderr)
        return 2
    try:
        import uvloop
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    try:
        run(serve(config, announce=True))
    except OSError as e:
        print(f"kapi: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
