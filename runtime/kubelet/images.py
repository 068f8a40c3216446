"""The local images a Docker-backed node needs, built without a registry.

It owns two images made from the host's static busybox (Debian's busybox-static):
`busybox:latest` (every applet linked in /bin, CMD sh, as the upstream image) and
`kapi/pause:latest`, the pod sandbox: a shell that sleeps and exits on SIGTERM. Both are
`docker import`s of a tiny root filesystem built in memory; an image already built from
the same busybox binary is left alone, so calling `ensure_images` is cheap and idempotent.
It never pulls and never removes an image.

`python -m runtime.kubelet.images` builds them (scripts/docker-env.sh, `make up`, CI).
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

BUSYBOX = Path("/bin/busybox")
BUSYBOX_IMAGE = "busybox:latest"
PAUSE_IMAGE = "kapi/pause:latest"
BUILD_LABEL = "dev.kapi.image-build"
# the sandbox's only job is to hold the namespaces; it exits promptly on SIGTERM/SIGINT
PAUSE_CMD = '["sh", "-c", "trap \\"exit 0\\" TERM INT; while :; do sleep 3600 & wait; done"]'
_DIRS = ("bin", "dev", "etc", "proc", "sys", "tmp", "var", "root", "home", "usr", "www")
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ImageBuildError(RuntimeError):
    """The images cannot be built here (no static busybox, or the engine refused)."""


def applets(busybox: Path = BUSYBOX) -> list[str]:
    out = subprocess.run([str(busybox), "--list"], capture_output=True, text=True,
                         check=True, timeout=10).stdout
    return [a for a in out.split() if a and a != "busybox" and "/" not in a]


def rootfs_tar(busybox: Path = BUSYBOX) -> bytes:
    """A root filesystem: /bin/busybox, a symlink per applet, and the usual folders."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in _DIRS:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        for name, text in (("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                                          "nobody:x:65534:65534:nobody:/home:/bin/false\n"),
                           ("etc/group", "root:x:0:\nnobody:x:65534:\n")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        tar.add(str(busybox), arcname="bin/busybox")
        for applet in applets(busybox):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return buf.getvalue()


def _build_id(busybox: Path, cmd: str) -> str:
    h = hashlib.sha256(busybox.read_bytes())
    h.update(cmd.encode())
    return h.hexdigest()[:16]


def _present(client: Any, ref: str, build: str) -> bool:
    import docker.errors

    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return bool((image.labels or {}).get(BUILD_LABEL) == build)


def ensure_images(client: Any, busybox: Path = BUSYBOX) -> list[str]:
    """Build busybox:latest and kapi/pause:latest unless already built from this busybox.
    Returns the references built now (empty when both were present)."""
    if not busybox.is_file():
        raise ImageBuildError(f"{busybox} is missing: apt-get install -y busybox-static")
    built, tar = [], None
    for ref, cmd in ((BUSYBOX_IMAGE, '["sh"]'), (PAUSE_IMAGE, PAUSE_CMD)):
        build = _build_id(busybox, cmd)
        if _present(client, ref, build):
            continue
        tar = tar or rootfs_tar(busybox)
        repo, tag = ref.rsplit(":", 1)
        client.api.import_image_from_data(
            tar, repository=repo, tag=tag,
            changes=[f"CMD {cmd}", f"ENV PATH={_PATH}", f"LABEL {BUILD_LABEL}={build}"])
        built.append(ref)
    return built


def main() -> int:
    import docker

    try:
        client = docker.from_env(timeout=120)
        built = ensure_images(client)
    except (ImageBuildError, docker.errors.DockerException) as e:
        print(f"images: {e}", file=sys.stderr)
        return 1
    print(f"images: built {', '.join(built)}" if built else "images: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
