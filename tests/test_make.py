"""`make up` says what it does while it installs and starts, and honours PORT and
DATA_DIR as the README documents (checked with `make -n`: nothing is installed or run)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def make_n(*args: str) -> str:
    return subprocess.run(["make", "-n", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=30, check=True).stdout


def test_first_install_announces_itself(tmp_path: Path) -> None:
    out = make_n(f"VENV={tmp_path}/venv", f"{tmp_path}/venv/bin/.installed")
    assert "installing kapi" in out and "about 20 s" in out


def test_up_uses_and_names_port_and_data_dir(tmp_path: Path) -> None:
    out = make_n("up", "PORT=7443", f"DATA_DIR={tmp_path}/d")
    assert f"starting kapi on 127.0.0.1:7443, data in {tmp_path}/d" in out
    assert f"kapi up --data-dir {tmp_path}/d --port 7443" in out


def test_readme_documents_the_variables() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make up PORT=" in readme and "make up DATA_DIR=" in readme
