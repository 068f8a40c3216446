"""A local image serving gRPC health (tests/kubelet/grpc_health_server.py), for the grpc
probe's tests on a Docker-backed node; built, never pulled, like runtime/kubelet/images.py.

Its root filesystem is busybox's (runtime/kubelet/images.py) plus the test interpreter's
own Python: the binary and the shared libraries it and the server's extension modules
link, the standard-library files the server imports (found by importing them in a
child interpreter), and the pure-Python h2 packages. Paths stay as on the host, so the
interpreter finds its standard library as it does here. An image built from the same
files is reused; the image is never removed (tests only add it).
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from runtime.kubelet import images

IMAGE = "kapi-test/grpc-health:latest"
SERVER = Path(__file__).resolve().parent.parent / "kubelet" / "grpc_health_server.py"
PORT = 9090
HEALTH_DIR = "/health"  # the server's status files (tests write them with exec)
_IMPORTS = "import asyncio, pathlib, sys, h2.config, h2.connection, h2.events"
_LIST = ("import json, sys; " + _IMPORTS + "; print(json.dumps(sorted({getattr(m, '__file__',"
         " None) or '' for m in list(sys.modules.values())} - {''})))")


def _module_files() -> tuple[list[Path], list[Path]]:
    """(standard-library files, third-party package folders) the server imports."""
    import h2

    # -S as in the image: no site module, h2's folder given as the image gives /opt/py
    env = {"PYTHONPATH": str(Path(h2.__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-S", "-c", _LIST], capture_output=True,
                         text=True, check=True, timeout=60, env=env).stdout
    stdlib, packages = [], set()
    for f in map(Path, json.loads(out)):
        if "site-packages" in f.parts:
            i = f.parts.index("site-packages")
            packages.add(Path(*f.parts[:i + 2]))
        else:
            stdlib.append(f)
    return stdlib, sorted(packages)


def _libraries(binaries: list[Path]) -> set[Path]:
    found: set[Path] = set()
    for b in binaries:
        out = subprocess.run(["ldd", str(b)], capture_output=True, text=True,
                             timeout=30).stdout
        for line in out.splitlines():
            parts = line.split()
            path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0] if parts else ""
            if path.startswith("/"):
                found.add(Path(path))
    return found


def _files() -> dict[str, Path]:
    """Image path -> host file."""
    python = Path(sys._base_executable).resolve()  # type: ignore[attr-defined]
    stdlib, packages = _module_files()
    files = {str(python).lstrip("/"): python, "usr/bin/python3": python,
             "grpc_health_server.py": SERVER}
    for f in stdlib:
        files[str(f).lstrip("/")] = f
    os_py = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    files[str(os_py / "os.py").lstrip("/")] = os_py / "os.py"  # the interpreter's landmark
    for pkg in packages:
        for f in pkg.rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts:
                files[f"opt/py/{pkg.name}/{f.relative_to(pkg)}"] = f
    for lib in _libraries([python, *(f for f in stdlib if f.suffix == ".so")]):
        files[str(lib).lstrip("/")] = lib.resolve()
    return files


def _tar(files: dict[str, Path]) -> bytes:
    """busybox's root filesystem with `files` added."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(images.rootfs_tar())) as base, \
            tarfile.open(fileobj=out, mode="w") as tar:
        for m in base:
            tar.addfile(m, base.extractfile(m) if m.isfile() else None)
        for arcname, path in sorted(files.items()):
            with path.open("rb") as fh:
                tar.addfile(tar.gettarinfo(str(path), arcname=arcname), fh)
    return out.getvalue()


def ensure_image(client: Any) -> str:
    """Build IMAGE unless an image of the same files is present; its reference."""
    import docker.errors

    files = _files()
    h = hashlib.sha256()
    for arcname, path in sorted(files.items()):
        h.update(arcname.encode() + path.read_bytes())
    build = h.hexdigest()[:16]
    try:
        if (client.images.get(IMAGE).labels or {}).get(images.BUILD_LABEL) == build:
            return IMAGE
    except docker.errors.ImageNotFound:
        pass
    repo, tag = IMAGE.rsplit(":", 1)
    client.api.import_image_from_data(_tar(files), repository=repo, tag=tag, changes=[
        f"ENV PATH={images._PATH}", "ENV PYTHONPATH=/opt/py",
        f"ENV PYTHONHOME={sys.base_prefix}",
        f'CMD ["python3", "-S", "/grpc_health_server.py", "{PORT}", "{HEALTH_DIR}"]',
        f"LABEL {images.BUILD_LABEL}={build}"])
    return IMAGE
