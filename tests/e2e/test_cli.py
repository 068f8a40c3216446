"""The `kapi` command as a user runs it: a taken port is a clear error, and `kapi up`
with its components stops cleanly on SIGTERM."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.conftest import REPO, start_server, stop_server


def test_taken_port_is_a_clear_error(server, tmp_path):
    p = subprocess.run([sys.executable, "-m", "kapi.cli", "apiserver", "--data-dir",
                        str(tmp_path), "--port", str(server.port)],
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    assert p.returncode == 1
    assert f"cannot listen on 127.0.0.1:{server.port}" in p.stderr
    assert "Traceback" not in p.stderr


def test_up_stops_cleanly_on_sigterm(tmp_path):
    s = start_server(tmp_path / "up", command="up", extra=("--nodes", "0", "--simulated-nodes", "2"))
    try:
        with s.client(timeout=10) as c:
            for _ in range(100):  # bounded: the nodes register within a few seconds
                nodes = c.get("/api/v1/nodes").json()["items"]
                if len(nodes) == 2:
                    break
                time.sleep(0.1)
            assert len(nodes) == 2
    finally:
        code = stop_server(s.proc)
    assert code == 0
    assert "Traceback" not in s.log.read_text()
    assert "export KUBECONFIG=" in s.log.read_text()


def test_up_without_a_docker_engine_says_so_and_still_starts(tmp_path, monkeypatch):
    """No engine answers: one clear line with the fix, and the control plane and the
    simulated nodes asked for start anyway."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-docker.sock")
    s = start_server(tmp_path / "up", command="up", extra=("--simulated-nodes", "1"))
    try:
        with s.client(timeout=10) as c:
            for _ in range(100):  # bounded: the node registers within a few seconds
                nodes = c.get("/api/v1/nodes").json()["items"]
                if nodes:
                    break
                time.sleep(0.1)
        assert [n["metadata"]["name"] for n in nodes] == ["kapi-sim-0"]
    finally:
        stop_server(s.proc)
    lines = [line for line in s.log.read_text().splitlines() if "Docker" in line]
    assert len(lines) == 1 and "no Docker engine reachable" in lines[0]
    assert "apt-get install -y docker.io" in lines[0] and "dockerd" in lines[0]


def test_unknown_controller_is_a_clear_error(tmp_path):
    for command in ("up", "controller-manager"):
        p = subprocess.run([sys.executable, "-m", "kapi.cli", command, "--data-dir"
                            if command == "up" else "--kubeconfig", str(tmp_path / "x"),
                            "--controllers", "*,-nope"],
                           capture_output=True, text=True, timeout=60, cwd=REPO)
        assert p.returncode == 2, p.stderr
        assert "unknown controller 'nope'" in p.stderr
        assert "Traceback" not in p.stderr


def test_bad_controller_option_is_a_clear_error(tmp_path):
    p = subprocess.run([sys.executable, "-m", "kapi.cli", "up", "--data-dir", str(tmp_path),
                        "--pod-gc-quarantine", "-1"],
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    assert p.returncode == 2, p.stderr
    assert "podgc_quarantine: must not be negative" in p.stderr
