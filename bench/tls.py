"""What TLS and client-certificate authentication cost: GET and create req/s against an
API server over HTTPS (the admin's client certificate, verified per connection and
mapped to a user per request) next to the same server over plain HTTP
(`--insecure-http`, everyone the admin), in one run.

    python -m bench.tls                  # ~1 minute: 3 rounds, the servers taking turns
    python -m bench.tls --quick          # a smoke run (one round, a tenth of the counts)

Both servers use memory storage and run in their own processes (the best of each
server's turns is kept, so a busy machine's load weighs on both alike); the client is kapi's
own (runtime/client, HTTP/1.1 keep-alive connections, one request in flight on each),
so the two rows differ by TLS and authentication only. Client and server share this
machine's cores, so the req/s ratio also carries the client's own TLS work; the server's
CPU time per request (from /proc) is printed beside it. Each phase stops after N
requests or T seconds, whichever comes first. The goal printed beside the ratio: TLS
at most 25% slower. Nothing asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from runtime.client.resources import CONFIGMAPS
from runtime.client.rest import Client

GOAL = 0.75  # TLS req/s at least this share of plain HTTP's


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _phase(clients: list[Client], count: int, seconds: float,
                 op: Callable[[Client, int], Awaitable[Any]],
                 server_pid: int = 0) -> tuple[float, float]:
    """(req/s, server CPU µs per request) of `op` over all clients, one request in
    flight per client."""
    done = 0
    cpu = _cpu_seconds(server_pid)
    started = time.perf_counter()
    deadline = started + seconds

    async def worker(c: Client, w: int) -> None:
        nonlocal done
        i = 0
        while done < count and time.perf_counter() < deadline:
            await op(c, w * 1_000_000 + i)
            i += 1
            done += 1

    await asyncio.gather(*(worker(c, w) for w, c in enumerate(clients)))
    rate = done / (time.perf_counter() - started)
    return rate, (_cpu_seconds(server_pid) - cpu) * 1e6 / max(done, 1)


async def measure(servers: dict[str, Any], *, connections: int, count: int, seconds: float,
                  rounds: int) -> dict[str, dict[str, tuple[float, float]]]:
    """Per server label and phase: the best req/s and the least server CPU per request
    over `rounds` rounds, the servers taking turns (a shared machine's load then weighs
    on both alike)."""
    clients = {label: [Client.from_kubeconfig(s.kubeconfig, user_agent=f"bench-tls/{label}",
                                              max_connections=1) for _ in range(connections)]
               for label, s in servers.items()}
    best: dict[str, dict[str, tuple[float, float]]] = {label: {} for label in servers}
    made = iter(range(2, 10**9))  # cm-1 is the one GET reads

    async def create(c: Client, i: int) -> Any:
        return await c.create(CONFIGMAPS, {"metadata": {"name": f"cm-{next(made)}"},
                                           "data": {"k": "v" * 64}}, "default")

    async def get(c: Client, i: int) -> Any:
        return await c.get(CONFIGMAPS, "cm-1", "default")

    try:
        for cs in clients.values():
            await cs[0].create(CONFIGMAPS, {"metadata": {"name": "cm-1"}}, "default")
            await _phase(cs, connections * 20, seconds, get)  # the connections are open
        for _ in range(rounds):
            for phase, op in (("get", get), ("create", create)):
                for label, cs in clients.items():
                    rate, cpu = await _phase(cs, count, seconds, op, servers[label].proc.pid)
                    old = best[label].get(phase, (0.0, float("inf")))
                    best[label][phase] = (max(old[0], rate), min(old[1], cpu))
    finally:
        await asyncio.gather(*(c.close() for cs in clients.values() for c in cs))
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tls", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a tenth of the counts")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--count", type=int, default=10_000, help="requests per phase at most")
    p.add_argument("--seconds", type=float, default=5.0, help="seconds per phase at most")
    p.add_argument("--rounds", type=int, default=3, help="turns each server takes")
    args = p.parse_args(argv)
    count = args.count // 10 if args.quick else args.count
    seconds = args.seconds / 5 if args.quick else args.seconds
    from tests.conftest import start_server, stop_server

    try:  # the event loop kapi's components run on (its TLS is much cheaper than asyncio's)
        import uvloop
        run: Callable[..., Any] = uvloop.run
    except ImportError:
        run = asyncio.run
    work = Path(tempfile.mkdtemp(prefix="kapi-bench-tls-"))
    servers = {"plain": start_server(work / "plain", storage="memory",
                                     extra=("--insecure-http",))}
    try:
        servers["tls"] = start_server(work / "tls", storage="memory")
        results = run(measure(servers, connections=args.connections, count=count,
                              seconds=seconds, rounds=1 if args.quick else args.rounds))
    finally:
        for server in servers.values():
            stop_server(server.proc)
    print(f"{'phase':<7} {'plain req/s':>12} {'TLS+x509 req/s':>15} {'ratio':>6}  goal      "
          f"{'server CPU µs/req plain':>24} {'TLS':>6}")
    for phase in ("get", "create"):
        (plain, plain_cpu), (tls, tls_cpu) = results["plain"][phase], results["tls"][phase]
        ratio = tls / plain if plain else 0.0
        verdict = "ok" if ratio >= GOAL else "below"
        print(f"{phase:<7} {plain:>12.0f} {tls:>15.0f} {ratio:>6.2f}  >= {GOAL:.2f} "
              f"({verdict:<5}) {plain_cpu:>18.0f} {tls_cpu:>6.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
