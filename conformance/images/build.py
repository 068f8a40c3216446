"""Local stand-ins for the images upstream's conformance tests run, tagged with the
upstream names so the ported tests keep upstream's image references and a Docker-backed
node finds them locally (they are never pulled).

Each is a `docker import` of the host's static busybox root filesystem (the same one
runtime/kubelet/images.py builds busybox:latest from) plus what the role needs:

  busybox       busybox itself, CMD sh
  pause         kapi's pod sandbox (sleeps, exits on SIGTERM)
  httpd, nginx  busybox httpd serving upstream's default page from upstream's document root
                (/usr/local/apache2/htdocs, /usr/share/nginx/html) on port 80
  agnhost       agnhost.sh: the agnhost subcommands the ports use (see that file)

`python -m conformance.images.build` builds what is missing; rebuilding is skipped when the
busybox binary and the image's recipe are unchanged. It never pulls and never removes.
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
from pathlib import Path
from typing import Any

from runtime.kubelet import images as base

HERE = Path(__file__).resolve().parent
E2E = "registry.k8s.io/e2e-test-images/"
AGNHOST = E2E + "agnhost:2.53"
BUSYBOX = E2E + "busybox:1.37.0-1"
HTTPD = E2E + "httpd:2.4.38-4"
HTTPD_NEW = E2E + "httpd:2.4.39-4"
NGINX = E2E + "nginx:1.14-4"
NGINX_NEW = E2E + "nginx:1.15-4"
PAUSE = "registry.k8s.io/pause:3.10"

HTTPD_ROOT = "usr/local/apache2/htdocs"
HTTPD_PAGE = b"<html><body><h1>It works!</h1></body></html>\n"
NGINX_ROOT = "usr/share/nginx/html"
NGINX_PAGE = (b"<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n"
              b"<body>\n<h1>Welcome to nginx!</h1>\n</body>\n</html>\n")


def _web(root: str, page: bytes) -> tuple[dict[str, tuple[bytes, int]], list[str]]:
    files = {f"{root}/index.html": (page, 0o644)}
    return files, [f'CMD ["httpd", "-f", "-v", "-p", "80", "-h", "/{root}"]']


def recipes() -> dict[str, tuple[dict[str, tuple[bytes, int]], list[str]]]:
    """reference -> (extra files {path: (content, mode)}, Dockerfile-style changes)."""
    script = (HERE / "agnhost.sh").read_bytes()
    agnhost = ({"agnhost": (script, 0o755), "agnhost-2": (script, 0o755)},
               ['ENTRYPOINT ["/agnhost"]', 'CMD ["pause"]'])
    out = {
        BUSYBOX: ({}, ['CMD ["sh"]']),
        PAUSE: ({}, [f"CMD {base.PAUSE_CMD}"]),
        AGNHOST: agnhost,
        HTTPD: _web(HTTPD_ROOT, HTTPD_PAGE),
        HTTPD_NEW: _web(HTTPD_ROOT, HTTPD_PAGE),
        NGINX: _web(NGINX_ROOT, NGINX_PAGE),
        NGINX_NEW: _web(NGINX_ROOT, NGINX_PAGE),
    }
    return out


def _with_files(rootfs: bytes, files: dict[str, tuple[bytes, int]]) -> bytes:
    if not files:
        return rootfs
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(rootfs)) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for m in src.getmembers():
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
        made = {m.name for m in src.getmembers()}
        for path, (data, mode) in sorted(files.items()):
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):  # parent folders first
                d = "/".join(parts[:i])
                if d not in made:
                    info = tarfile.TarInfo(d)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    dst.addfile(info)
                    made.add(d)
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), mode
            dst.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _build_id(busybox: Path, files: dict[str, tuple[bytes, int]], changes: list[str]) -> str:
    h = hashlib.sha256(busybox.read_bytes())
    for path, (data, mode) in sorted(files.items()):
        h.update(f"{path}:{mode:o}:".encode() + data)
    h.update("\n".join(changes).encode())
    return h.hexdigest()[:16]


def ensure(client: Any, busybox: Path = base.BUSYBOX) -> list[str]:
    """Build every stand-in not already built from this recipe; the references built."""
    if not busybox.is_file():
        raise base.ImageBuildError(f"{busybox} is missing: apt-get install -y busybox-static")
    built: list[str] = []
    rootfs: bytes | None = None
    for ref, (files, changes) in recipes().items():
        build = _build_id(busybox, files, changes)
        if base._present(client, ref, build):
            continue
        rootfs = rootfs or base.rootfs_tar(busybox)
        repo, tag = ref.rsplit(":", 1)
        client.api.import_image_from_data(
            _with_files(rootfs, files), repository=repo, tag=tag,
            changes=[*changes, f"ENV PATH={base._PATH}", f"LABEL {base.BUILD_LABEL}={build}"])
        built.append(ref)
    return built


def main() -> int:
    import docker

    try:
        built = ensure(docker.from_env(timeout=120))
    except (base.ImageBuildError, docker.errors.DockerException) as e:
        print(f"conformance images: {e}", file=sys.stderr)
        return 1
    print(f"conformance images: built {', '.join(built)}" if built else
          "conformance images: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
