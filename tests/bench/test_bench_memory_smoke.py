"""Smoke test of bench.memory: it runs end to end on a small scale and prints every
figure (none is judged: a benchmark prints, it does not assert timings or sizes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def test_bench_memory_small() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--objects", "20", "--size-kib", "16",
         "--watchers", "3", "--history-seconds", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for row in ("RSS after 20 ConfigMaps of 16 KiB", "RSS after 3 stuck watchers",
                "RSS after deleting them and compaction", "100 MB body (Content-Length)",
                "100 MB body (chunked): bytes sent before the answer",
                "10 parallel 100 MB uploads (Content-Length)",
                "10 parallel 100 MB uploads (chunked)"):
        assert row in out, f"{row!r} missing from:\n{out}"
    assert "answer 413 after" in out and "nan" not in out
