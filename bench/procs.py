"""Server subprocesses of the synchronous benchmarks: started, waited for until ready,
and stopped (by their Popen object, so only our own child) even when the run fails.

Must never: stop a process it did not start, or wait without a bound.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Callable

import httpx

ROOT = Path(__file__).resolve().parent.parent


def start_server(argv: list[str], log_path: Path, ready: Callable[[], bool], what: str,
                 *, timeout: float = 60.0, every: float = 0.1) -> subprocess.Popen[bytes]:
    """Starts argv (output to log_path) and polls `ready` until it is true. On any
    failure (the process exited, `what` did not happen in time, an interrupt) the
    process is stopped before the error propagates."""
    with log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{what}: the server exited with {proc.returncode} "
                                   f"(its output: {log_path})")
            try:
                if ready():
                    return proc
            except httpx.HTTPError:
                pass
            time.sleep(every)
        raise RuntimeError(f"{what}: not after {timeout:.0f} s")
    except BaseException:
        stop_server(proc)
        raise


def readyz(url: str) -> Callable[[], bool]:
    """start_server's usual readiness check: the server at `url` answers /readyz with 200."""
    return lambda: httpx.get(url + "/readyz", timeout=1).status_code == 200


def stop_server(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
