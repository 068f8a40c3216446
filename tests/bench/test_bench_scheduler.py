"""Smoke test of the scheduler benchmark: it runs end to end at a tiny scale and prints
its rows. No timing is asserted; only that every phase finished and printed figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def test_bench_scheduler_tiny() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.scheduler", "--nodes", "10", "--pods", "100",
         "--ready-nodes", "5", "--ready-pods", "50", "--mode", "both", "--timeout", "60"],
        cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "timed out" not in out, out
    for row in ("[separate] 100 pods on 10 simulated nodes", "[inprocess] 100 pods on 10",
                "[ready] 50 bare pods created -> all Running+Ready on 5", "cpu per pod"):
        assert row in out, f"{row!r} missing from:\n{out}"
