"""A stopping kubelet's probes and hooks take their cancellation: a probe whose check
completes at the very moment it is cancelled (asyncio.wait_for on 3.11 returns the
result then, swallowing the cancellation) would probe on for ever, and the kubelet's
stop, and with it `kapi up`'s exit on SIGTERM, would wait for it."""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Awaitable, Callable

from runtime.kubelet import hooks
from runtime.kubelet.cri import ContainerInfo
from runtime.kubelet.probes import Prober


def _cancelled_at_every_tick(start: Callable[[], Awaitable[Any]], ticks: int = 12) -> list[str]:
    """Run `start()` and cancel it after 0..ticks-1 loop iterations; what each run did:
    'cancelled', 'finished' (done before the cancel came) or 'swallowed'."""
    async def scenario(n: int) -> str:
        task = asyncio.ensure_future(start())
        for _ in range(n):
            await asyncio.sleep(0)
        if task.done():
            return "finished"
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        return "swallowed"
    return [asyncio.run(scenario(n)) for n in range(ticks)]


def test_a_tcp_probe_is_cancelled_even_when_its_connection_completes_then() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        prober = Prober(None, on_change=lambda uid: None, clock=lambda: 0.0)
        probe = {"tcpSocket": {"port": port}, "timeoutSeconds": 5}
        outcomes = _cancelled_at_every_tick(
            lambda: prober.run(probe, {"name": "c"}, "cid", "127.0.0.1"))
    assert "swallowed" not in outcomes, outcomes
    assert "cancelled" in outcomes  # the race was reached, not only finished runs


class _Runtime:
    """An engine whose exec ends after a few loop iterations and whose stop is instant."""

    def __init__(self) -> None:
        self.stopped: list[str] = []

    async def exec_probe(self, cid: str, command: list[str], timeout: float) -> int:
        for _ in range(3):
            await asyncio.sleep(0)
        return 0

    async def stop_container(self, cid: str, grace: int) -> None:
        self.stopped.append(cid)


def test_a_prestop_hook_is_cancelled_even_when_it_completes_then() -> None:
    runtime = _Runtime()
    c = ContainerInfo(id="cid", name="c", pod_uid="u", pod_namespace="ns", pod_name="p",
                      attempt=0, state="running")
    spec = {"name": "c", "lifecycle": {"preStop": {"exec": {"command": ["true"]}}}}

    async def report(pod: Any, reason: str, message: str) -> None:
        pass
    outcomes = _cancelled_at_every_tick(
        lambda: hooks.stop(runtime, {"metadata": {}}, spec, c, "", 30, report))
    assert "swallowed" not in outcomes, outcomes
    assert "cancelled" in outcomes
