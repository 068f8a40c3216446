"""Lifecycle hooks (postStart, preStop) of a container: exec, httpGet and sleep handlers,
and the stop sequence upstream runs (preStop, then SIGTERM with what is left of the
grace period, then SIGKILL).

A failed hook is reported with upstream's message as FailedPostStartHook or
FailedPreStopHook; the caller decides what follows (a failed postStart kills the
container). Hooks only reach the pod's own IP or run inside the container.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

import httpx

from runtime.kubelet import cri
from runtime.kubelet.probes import _port

Obj = dict[str, Any]
Report = Callable[[Obj, str, str], Awaitable[None]]  # (pod, reason, message) -> event
MIN_GRACE_AFTER_HOOK = 2  # seconds SIGTERM still gets after a long preStop, as upstream


def _pod_ref(pod: Obj) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


async def run(runtime: Any, pod: Obj, spec: Obj, handler: Obj, cid: str, ip: str,
              timeout: float) -> str | None:
    """Run one handler; None on success, else upstream's failure message."""
    where = f'for Container "{spec.get("name", "")}" in Pod "{_pod_ref(pod)}"'
    if "exec" in handler:
        command = list(handler["exec"].get("command") or [])
        code = await runtime.exec_probe(cid, command, timeout)
        if code == 0:
            return None
        return (f"Exec lifecycle hook ([{' '.join(command)}]) {where} failed - error: "
                f"command '{' '.join(command)}' exited with {code}: , message: \"\"")
    if "httpGet" in handler:
        get = handler["httpGet"]
        scheme = str(get.get("scheme") or "HTTP").lower()
        url = (f"{scheme}://{get.get('host') or ip}:{_port(get.get('port'), spec)}"
               f"{get.get('path') or '/'}")
        headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
        try:
            async with httpx.AsyncClient(timeout=timeout, verify=False) as http:
                r = await http.get(url, headers=headers)
            if 200 <= r.status_code < 400:
                return None
            err = f"HTTP lifecycle hook failed with statuscode: {r.status_code}"
        except httpx.HTTPError as e:
            err = str(e) or type(e).__name__
        return f"HTTP lifecycle hook ({get.get('path') or '/'}) {where} failed - error: {err}"
    if "sleep" in handler:
        await asyncio.sleep(min(float(handler["sleep"].get("seconds") or 0), timeout))
        return None
    return None


async def post_start(runtime: Any, pod: Obj, spec: Obj, c: cri.ContainerInfo, ip: str,
                     report: Report) -> bool:
    """Run the postStart hook, if any; False (after the event) when it failed."""
    handler = (spec.get("lifecycle") or {}).get("postStart")
    if not handler:
        return True
    grace = int((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
    msg = await run(runtime, pod, spec, handler, c.id, ip, timeout=max(grace, 30))
    if msg is None:
        return True
    await report(pod, "FailedPostStartHook", msg)
    return False


async def stop(runtime: Any, pod: Obj, spec: Obj | None, c: cri.ContainerInfo, ip: str,
               grace: int, report: Report) -> None:
    """preStop (when the container runs and has one), then SIGTERM, SIGKILL after what
    remains of the grace period."""
    handler = ((spec or {}).get("lifecycle") or {}).get("preStop")
    if handler and c.running and grace > 0:
        started = time.monotonic()
        try:
            async with asyncio.timeout(grace):  # not wait_for: see probes.py
                msg = await run(runtime, pod, spec or {}, handler, c.id, ip, timeout=grace)
        except TimeoutError:
            msg = None
        if msg is not None:
            await report(pod, "FailedPreStopHook", msg)
        grace = max(grace - int(time.monotonic() - started), MIN_GRACE_AFTER_HOOK)
    await runtime.stop_container(c.id, grace)
