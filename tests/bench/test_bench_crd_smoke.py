"""Smoke test of the custom resource benchmark (bench/crd.py): it starts its server,
creates the definition, runs both phases without errors and prints the comparison. No
timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def test_bench_crd_runs(tmp_path: Path) -> None:
    out_json = tmp_path / "crd.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.crd", "--storage", "memory", "--concurrency", "2",
         "--seconds", "0.3", "--count", "60", "--rounds", "1", "--json", str(out_json)],
        cwd=REPO, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "custom resource creates/s =" in proc.stdout
    doc = json.loads(out_json.read_text())
    assert set(doc) == {"ConfigMap create", "custom resource create"}
    for phase in doc.values():
        assert phase["requests"] > 0 and phase["errors"] == 0, phase
