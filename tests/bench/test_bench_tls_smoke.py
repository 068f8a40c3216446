"""Smoke test of the TLS benchmark: both servers answer, each row is printed with a
ratio. No timing is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def test_bench_tls_quick() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.tls", "--quick", "--count", "500"],
                          cwd=REPO, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for phase in ("get", "create"):
        row = re.search(rf"^{phase}\s+(\d+)\s+(\d+)\s+([\d.]+)", proc.stdout, re.M)
        assert row is not None, proc.stdout
        assert int(row.group(1)) > 0 and int(row.group(2)) > 0
