"""A pod's directory on the node: its volumes, its managed /etc/hosts and its containers'
termination-message files, under `<root>/pods/<uid>/` as upstream's kubelet lays it out.

It sets volumes up (emptyDir, with medium Memory as a tmpfs; hostPath with its type
check; configMap/secret/downwardAPI/projected written by runtime/kubelet/atomicwriter.py
and rewritten in place when their sources change, the last three on a tmpfs as upstream
when the kubelet runs as root), turns a container's volumeMounts
into bind mounts (subPath, subPathExpr, readOnly), and removes the directory when the
pod is gone. It reads nothing from the API: the objects arrive as `Sources`. It never
touches a path outside its root except the hostPath volumes a pod names.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import uuid
from pathlib import Path
from typing import Any

from runtime.kubelet import atomicwriter
from runtime.kubelet.containerspec import expand
from runtime.kubelet.envsources import Sources
from runtime.kubelet.volumes import PLUGIN_DIRS, MountError, kind_of, payload
from runtime.scheduler.quantity import parse

Obj = dict[str, Any]
CLUSTER_DOMAIN = "cluster.local"
HOSTS_HEADER = "# Kubernetes-managed hosts file.\n"
# upstream keeps these on tmpfs (wrapped in a Memory emptyDir): secrets never touch disk
IN_MEMORY = ("secret", "projected", "downwardAPI")
_HOSTS_BASE = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
               "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\n"
               "fe00::2\tip6-allrouters\n")
_HOSTPATH_CHECKS = {"Directory": (stat.S_ISDIR, "a directory"),
                    "File": (stat.S_ISREG, "a file"), "Socket": (stat.S_ISSOCK, "a socket"),
                    "CharDevice": (stat.S_ISCHR, "a character device"),
                    "BlockDevice": (stat.S_ISBLK, "a block device")}


def hosts_content(pod: Obj, ip: str, host_network: bool, host_file: str = "") -> str:
    """Upstream's managed /etc/hosts: localhost lines, the pod's IP with its hostname
    (and FQDN with a subdomain), then the hostAliases."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    if host_network:
        text = "# Kubernetes-managed hosts file (host network).\n" + host_file
    else:
        hostname = (spec.get("hostname") or meta.get("name", ""))[:63]
        sub = spec.get("subdomain")
        line = (f"{ip}\t{hostname}.{sub}.{meta.get('namespace', '')}.svc.{CLUSTER_DOMAIN}"
                f"\t{hostname}\n" if sub else f"{ip}\t{hostname}\n")
        text = HOSTS_HEADER + _HOSTS_BASE + (line if ip else "")
    aliases = spec.get("hostAliases") or []
    if aliases:
        text += "\n# Entries added by HostAliases.\n" + "".join(
            f"{a.get('ip', '')}\t{chr(9).join(a.get('hostnames') or [])}\n" for a in aliases)
    return text


class PodVolumes:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.privileged = os.geteuid() == 0  # tmpfs mounts and fsGroup chown need root

    def pod_dir(self, uid: str) -> Path:
        return self.root / "pods" / uid

    # -- set-up --------------------------------------------------------------------------
    def setup(self, pod: Obj, sources: Sources, allocatable: dict[str, str]) -> dict[str, str]:
        """Every volume ready on the node: name -> host path. Raises MountError with
        upstream's FailedMount message for the first volume that cannot be set up."""
        uid = pod["metadata"]["uid"]
        spec = pod.get("spec") or {}
        gid = (spec.get("securityContext") or {}).get("fsGroup")
        paths: dict[str, str] = {}
        for vol in spec.get("volumes") or []:
            name, kind = vol.get("name", ""), kind_of(vol)
            if not kind:
                continue
            where = self.pod_dir(uid) / "volumes" / PLUGIN_DIRS[kind] / name
            try:
                paths[name] = self._one(pod, vol, kind, where, sources, allocatable, gid)
            except (MountError, OSError, subprocess.SubprocessError) as e:
                raise MountError(f'MountVolume.SetUp failed for volume "{name}" : {e}') \
                    from None
        return paths

    def _one(self, pod: Obj, vol: Obj, kind: str, where: Path, sources: Sources,
             allocatable: dict[str, str], gid: int | None) -> str:
        if kind == "hostPath":
            return _host_path(vol["hostPath"])
        if kind == "persistentVolumeClaim":  # the bound volume's directory, made if absent
            path = sources.claims.get(vol["persistentVolumeClaim"].get("claimName", ""))
            if path is None:
                raise MountError("the claim's volume is not known yet")
            return _host_path({"path": path, "type": "DirectoryOrCreate"})
        if kind == "emptyDir":
            return self._empty_dir(vol["emptyDir"] or {}, where, allocatable, gid)
        files = payload(pod, vol, sources, allocatable)
        if kind in IN_MEMORY and self.privileged and not os.path.ismount(where):
            where.mkdir(parents=True, exist_ok=True)
            _mount_tmpfs(where, allocatable.get("memory") or "", "0755")
        atomicwriter.write(where, files, gid=gid if self.privileged else None)
        if gid is not None and self.privileged:
            os.chown(where, -1, int(gid))
        return str(where)

    def _empty_dir(self, src: Obj, where: Path, allocatable: dict[str, str],
                   gid: int | None) -> str:
        if not where.is_dir():
            where.mkdir(parents=True)
            os.chmod(where, 0o777)
            if gid is not None and self.privileged:
                os.chown(where, -1, int(gid))
                os.chmod(where, 0o2777)
        if src.get("medium") == "Memory" and self.privileged and not os.path.ismount(where):
            _mount_tmpfs(where, src.get("sizeLimit") or allocatable.get("memory") or "",
                         "2777" if gid is not None else "0777")
            if gid is not None:
                os.chown(where, -1, int(gid))
        return str(where)

    def write_hosts(self, pod: Obj, ip: str) -> str:
        uid = pod["metadata"]["uid"]
        host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
        host_file = Path("/etc/hosts").read_text() if host_network else ""
        path = self.pod_dir(uid) / "etc-hosts"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(hosts_content(pod, ip, host_network, host_file))
        os.chmod(path, 0o644)
        return str(path)

    def termination_log(self, uid: str, container: str) -> str:
        """A fresh empty file the container writes its termination message to."""
        d = self.pod_dir(uid) / "containers" / container
        d.mkdir(parents=True, exist_ok=True)
        path = d / uuid.uuid4().hex[:8]
        path.touch()
        os.chmod(path, 0o666)
        return str(path)

    # -- tear-down -----------------------------------------------------------------------
    def remove(self, uid: str) -> None:
        d = self.pod_dir(uid)
        if not d.exists():
            return
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                  if line.split()[1].startswith(f"{d}/")]
        for m in sorted(mounts, reverse=True):  # tmpfs volumes, deepest first
            subprocess.run(["umount", m], check=False, capture_output=True, timeout=10)
        shutil.rmtree(d, ignore_errors=True)

    def remove_orphans(self, keep: set[str]) -> None:
        pods = self.root / "pods"
        for d in (pods.iterdir() if pods.is_dir() else ()):
            if d.name not in keep:
                self.remove(d.name)


def _mount_tmpfs(where: Path, size: str, mode: str) -> None:
    opts = f"size={int(parse(size))}" if size else "size=64m"
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"{opts},mode={mode}", "tmpfs",
                    str(where)], check=True, capture_output=True, timeout=10)


def _host_path(src: Obj) -> str:
    path, kind = src.get("path", ""), src.get("type") or ""
    if kind == "DirectoryOrCreate" and not os.path.exists(path):
        os.makedirs(path, 0o755)
    elif kind == "FileOrCreate" and not os.path.exists(path):
        os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
        Path(path).touch(0o644)
    check = _HOSTPATH_CHECKS.get(kind.removesuffix("OrCreate"))
    if check is not None:
        try:
            ok = check[0](os.stat(path).st_mode)
        except OSError:
            ok = False
        if not ok:
            raise MountError(f"hostPath type check failed: {path} is not {check[1]}")
    return path


def binds(container: Obj, paths: dict[str, str], env: dict[str, str],
          read_only_volumes: set[str]) -> list[str]:
    """A container's volumeMounts as Docker binds `src:dst[:ro]`; subPath and
    subPathExpr (expanded with the container's env) must stay inside the volume."""
    out = []
    for m in container.get("volumeMounts") or []:
        base = paths.get(m.get("name", ""))
        if base is None:
            raise MountError(f"volume {m.get('name', '')!r} is not set up")
        sub = m.get("subPath") or expand(m.get("subPathExpr") or "", env)
        src = base
        if sub:
            src = os.path.join(base, sub)
            real, root = os.path.realpath(src), os.path.realpath(base)
            if real != root and not real.startswith(root + os.sep):
                raise MountError(f"subPath {sub!r} escapes volume {m.get('name')}")
            if not os.path.exists(src):
                os.makedirs(src, 0o777, exist_ok=True)
            src = real
        ro = m.get("readOnly") or m.get("name") in read_only_volumes
        out.append(f"{src}:{m.get('mountPath', '')}{':ro' if ro else ''}")
    return out
