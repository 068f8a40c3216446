"""Smoke test of the API benchmark: it runs end to end and prints every row.

No timing is asserted (a benchmark prints figures, it does not judge them in a test):
only that each phase ran, returned positive figures and made no errors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent

ROWS = (
    "floor GET", "floor POST (cm body)", "floor GET via httpx",
    "create configmap (POST)", "get configmap", "update configmap (PUT, with rv)",
    "configmaps", "create pod (POST)", "pods", "watch delivery", "writes during watch",
)


def test_bench_api_quick(tmp_path: Path) -> None:
    out_json = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.api", "--quick", "--scale", "0.02",
         "--json", str(out_json)],
        cwd=REPO, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for row in ROWS:
        assert row in out, f"row {row!r} missing from:\n{out}"
    assert "events received" in out

    doc = json.loads(out_json.read_text())
    rows = doc["rows"]
    assert doc["floor_rate"] > 0
    labels = [r["label"] for r in rows]
    assert any(label.startswith("list") and label.endswith("configmaps") for label in labels)
    assert any(label.startswith("list") and label.endswith("pods") for label in labels)
    for r in rows:
        assert r["requests"] > 0, r
        assert r["errors"] == 0, r
        assert r["p50_ms"] > 0 and r["p99_ms"] >= r["p50_ms"], r
        if not r["label"].startswith("watch"):
            assert r["rate"] > 0, r
    for r in rows:
        if r["label"].startswith("list"):
            assert r["objects"] and r["objects"] > 0, r
        if r["label"].startswith("watch"):
            assert r["received"] == r["expected"] > 0, r
