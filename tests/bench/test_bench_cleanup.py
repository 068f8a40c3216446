"""A benchmark that fails leaves no server behind: ServerProc stops the process it
started when that process never becomes ready, before the error reaches the bench."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from bench.api import ServerProc, free_port


def test_a_server_that_never_becomes_ready_is_stopped(tmp_path: Path) -> None:
    # a process that lives on but never answers /readyz on its port
    never_ready = [sys.executable, "-c", "import time; time.sleep(600)"]
    srv = ServerProc("never-ready", never_ready, free_port(), tmp_path / "srv.log")
    with pytest.raises(RuntimeError, match="never-ready not ready"):
        asyncio.run(srv.start(timeout=1.0))
    assert srv.proc is not None
    assert srv.proc.poll() is not None  # stopped, not left running
