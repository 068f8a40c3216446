"""The conformance runner (conformance/run.py) against a real kapi server: every named
behaviour must hold, and the report must say so."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO


def test_conformance_report_all_pass(server, tmp_path):
    report = tmp_path / "report.json"
    p = subprocess.run([sys.executable, "-m", "conformance.run", "--kubeconfig",
                        str(server.kubeconfig), "--report", str(report)],
                       capture_output=True, text=True, timeout=120, cwd=REPO)
    assert p.returncode == 0, p.stdout + p.stderr
    data = json.loads(report.read_text())
    assert data["total"] >= 10 and data["passed"] == data["total"]
    assert "behaviours hold" in p.stdout
