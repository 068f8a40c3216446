"""Smoke test of the write-path benchmark (bench/apply.py): it starts its three servers,
runs every phase without errors and prints every row. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
PHASES = ("create", "update (PUT)", "strategic merge patch", "merge patch", "server-side apply")


def test_bench_apply_runs(tmp_path: Path) -> None:
    out_json = tmp_path / "apply.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.apply", "--storage", "memory", "--concurrency", "4",
         "--seconds", "0.3", "--count", "80", "--json", str(out_json)],
        cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for phase in PHASES:
        assert phase in proc.stdout
    assert "valid+default cost" in proc.stdout
    doc = json.loads(out_json.read_text())
    assert set(doc) == {"full", "no-valid", "bare"}
    for server in doc.values():
        for phase in PHASES:
            assert server[phase]["requests"] > 0 and server[phase]["errors"] == 0, server
