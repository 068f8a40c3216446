"""`kapi up --apiservers N --storage etcd`: a control plane of N API servers on one
machine sharing one etcd, for trying what several API servers do. The first is the one
`kapi up` serves itself (on --port); the others are `kapi apiserver` processes on the
next ports (--port+1, ...), started with the same server flags and data dir (so the same
CA, serving certificate and service-account keys) once the first is ready, each with
its own watch cache; they write no kubeconfig of their own. The admin kubeconfig gains
one context per server (`kapi-apiserver-2`, ...: same user and CA) besides `kapi`, so a
client can pick any; a real deployment puts a load balancer (HAProxy, nginx: TCP
passthrough to every server's port) in front and points the kubeconfig at it (README).

Each extra process gets SIGTERM when `kapi up` stops (and, on Linux, when it dies, via
the parent-death signal). Owns those processes and the extra contexts; never touches
etcd or another server's state.
"""

from __future__ import annotations

import argparse
import ctypes
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import yaml

from kapi.auth.pki import write_private

STOP_WAIT = 20.0  # seconds an extra server has to stop before it is killed


def server_argv(parser: argparse.ArgumentParser, args: argparse.Namespace, port: int, *,
                formats: dict[Any, Callable[[Any], str]] | None = None) -> list[str]:
    """`kapi apiserver` flags equal to `args` for every flag `parser` knows (those left
    at their default are left out), on `port`, writing no kubeconfig. `formats`: how a
    value parsed by a given type function is written back (e.g. seconds as `3600s`)."""
    out: list[str] = []
    for action in parser._actions:  # argparse offers no public iteration of its flags
        if not action.option_strings or action.dest in ("help", "port", "extra_apiserver"):
            continue
        value = getattr(args, action.dest, action.default)
        if value == action.default:
            continue
        flag = max(action.option_strings, key=len)
        text = (formats or {}).get(action.type, _flag_text)
        if isinstance(value, bool):
            out.append(flag)
        elif isinstance(value, list):
            for v in value:
                out += [flag, text(v)]
        else:
            out += [flag, text(value)]
    return [*out, "--port", str(port), "--extra-apiserver"]


def _flag_text(value: Any) -> str:
    """A parsed flag value as its flag text (a port range is a pair)."""
    return "-".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


def die_with_parent() -> None:
    """In an extra server (it calls this at start): SIGTERM when `kapi up` dies (Linux
    prctl PR_SET_PDEATHSIG). Not a preexec_fn: forking runs no Python in the child, as
    gRPC's threads in the parent could hold locks the child would wait on for ever."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class ExtraServers:
    """The extra `kapi apiserver` processes."""

    def __init__(self, argvs: list[list[str]], log_dir: Path) -> None:
        self.argvs, self.log_dir = argvs, log_dir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        for argv in self.argvs:
            port = argv[argv.index("--port") + 1]
            log = (self.log_dir / f"apiserver-{port}.log").open("ab")
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "kapi.cli", "apiserver", *argv], stdout=log,
                stderr=subprocess.STDOUT))

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=STOP_WAIT)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def add_contexts(kubeconfig: Path, urls: list[str],
                 name: Callable[[int], str] = lambda i: f"kapi-apiserver-{i}") -> None:
    """One cluster and context per extra server URL (numbered from 2), the current
    context left as it is."""
    doc = yaml.safe_load(kubeconfig.read_text())
    base = next(c for c in doc["contexts"] if c["name"] == doc["current-context"])["context"]
    cluster = next(c for c in doc["clusters"] if c["name"] == base["cluster"])["cluster"]
    for i, url in enumerate(urls, start=2):
        doc["clusters"] = [c for c in doc["clusters"] if c["name"] != name(i)] + [
            {"name": name(i), "cluster": {**cluster, "server": url}}]
        doc["contexts"] = [c for c in doc["contexts"] if c["name"] != name(i)] + [
            {"name": name(i), "context": {**base, "cluster": name(i)}}]
    write_private(kubeconfig, yaml.safe_dump(doc, sort_keys=False).encode())
