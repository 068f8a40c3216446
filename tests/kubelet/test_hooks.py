"""Lifecycle hooks against a fake runtime and a real HTTP server on loopback: exec,
httpGet and sleep handlers with upstream's failure messages, and the stop sequence
(preStop first, then SIGTERM with what is left of the grace period)."""

from __future__ import annotations

import asyncio
from typing import Any

from runtime.kubelet import hooks
from runtime.kubelet.cri import ContainerInfo

POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u"},
       "spec": {"terminationGracePeriodSeconds": 5}}
RUNNING = ContainerInfo(id="c1", name="app", pod_uid="u", pod_namespace="ns",
                        pod_name="p", attempt=0, state="running")


class FakeRuntime:
    def __init__(self, exit_code: int = 0) -> None:
        self.exit_code = exit_code
        self.calls: list[tuple[Any, ...]] = []

    async def exec_probe(self, cid: str, command: list[str], timeout: float) -> int:
        self.calls.append(("exec", cid, tuple(command)))
        return self.exit_code

    async def stop_container(self, cid: str, grace: int) -> None:
        self.calls.append(("stop", cid, grace))


async def _server(status: int) -> tuple[asyncio.Server, int]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_exec_hook_failure_message() -> None:
    spec = {"name": "app"}
    msg = asyncio.run(hooks.run(FakeRuntime(exit_code=2), POD, spec,
                                {"exec": {"command": ["sh", "-c", "exit 2"]}}, "c1", "", 5))
    assert msg is not None and msg.startswith(
        'Exec lifecycle hook ([sh -c exit 2]) for Container "app" in Pod "p_ns(u)" failed')
    assert asyncio.run(hooks.run(FakeRuntime(), POD, spec, {"exec": {"command": ["true"]}},
                                 "c1", "", 5)) is None


def test_http_hooks_against_a_loopback_server() -> None:
    async def go() -> tuple[str | None, str | None]:
        good, good_port = await _server(200)
        bad, bad_port = await _server(500)
        spec = {"name": "app", "ports": [{"name": "web", "containerPort": good_port}]}
        try:
            ok = await hooks.run(FakeRuntime(), POD, spec, {"httpGet": {
                "path": "/hook", "port": "web"}}, "c1", "127.0.0.1", 5)
            failed = await hooks.run(FakeRuntime(), POD, spec, {"httpGet": {
                "path": "/hook", "port": bad_port}}, "c1", "127.0.0.1", 5)
        finally:
            good.close()
            bad.close()
        return ok, failed
    ok, failed = asyncio.run(go())
    assert ok is None
    assert failed == ('HTTP lifecycle hook (/hook) for Container "app" in Pod "p_ns(u)" '
                      "failed - error: HTTP lifecycle hook failed with statuscode: 500")


def test_pre_stop_runs_before_sigterm_and_reports_failure() -> None:
    events: list[tuple[str, str]] = []

    async def report(pod: Any, reason: str, message: str) -> None:
        events.append((reason, message))
    rt = FakeRuntime(exit_code=1)
    spec = {"name": "app", "lifecycle": {"preStop": {"exec": {"command": ["false"]}}}}
    asyncio.run(hooks.stop(rt, POD, spec, RUNNING, "", 5, report))
    assert rt.calls[0] == ("exec", "c1", ("false",)) and rt.calls[1][:2] == ("stop", "c1")
    assert 2 <= rt.calls[1][2] <= 5
    assert events[0][0] == "FailedPreStopHook"
    rt = FakeRuntime()
    sleepy = {"name": "app", "lifecycle": {"preStop": {"sleep": {"seconds": 0}}}}
    asyncio.run(hooks.stop(rt, POD, sleepy, RUNNING, "", 3, report))
    assert rt.calls == [("stop", "c1", 3)]


def test_post_start_failure_is_reported() -> None:
    events: list[str] = []

    async def report(pod: Any, reason: str, message: str) -> None:
        events.append(reason)
    spec = {"name": "app", "lifecycle": {"postStart": {"exec": {"command": ["false"]}}}}
    assert not asyncio.run(hooks.post_start(FakeRuntime(1), POD, spec, RUNNING, "", report))
    assert events == ["FailedPostStartHook"]
    assert asyncio.run(hooks.post_start(FakeRuntime(1), POD, {"name": "app"}, RUNNING, "",
                                        report))
