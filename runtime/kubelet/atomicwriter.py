"""Writing a volume's files so that a reader sees the old set or the new set, never a mix:
upstream's AtomicWriter layout.

The files live in a hidden timestamped directory `..<timestamp>`; `..data` is a symlink
to it and every top-level name is a symlink through `..data`. An update writes a new
timestamped directory, points a temporary link at it and renames that link over
`..data` (one atomic rename), then fixes the top-level links and removes the old
directory. It owns only the directory it is given and must never follow a payload path
outside it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

Payload = dict[str, tuple[bytes, int]]
DATA = "..data"
DATA_TMP = "..data_tmp"


def _check(payload: Payload) -> None:
    for rel in payload:
        parts = Path(rel).parts
        if not rel or rel.startswith("/") or ".." in parts or parts[0].startswith(".."):
            raise ValueError(f"invalid path {rel!r} in a volume payload")


def _current(target: Path) -> Payload | None:
    """The payload the volume holds now, or None when it holds none yet."""
    data = target / DATA
    if not data.is_symlink():
        return None
    root = target / os.readlink(data)
    out: Payload = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = (p.read_bytes(), p.stat().st_mode & 0o7777)
    return out


def write(target: Path, payload: Payload, *, gid: int | None = None) -> bool:
    """Make `target` hold exactly `payload`; False when it already did. With `gid`, the
    files belong to that group (fsGroup) and stay group-readable."""
    _check(payload)
    wanted = {k: (v, (m | 0o040) if gid is not None else m)
              for k, (v, m) in payload.items()}
    target.mkdir(parents=True, exist_ok=True)
    if _current(target) == wanted:
        return False
    stamp = dt.datetime.now(dt.UTC).strftime("..%Y_%m_%d_%H_%M_%S.")
    new_dir = Path(tempfile.mkdtemp(prefix=stamp, dir=target))
    for rel, (data, mode) in wanted.items():
        f = new_dir / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data)
        os.chmod(f, mode)
        if gid is not None:
            os.chown(f, -1, gid)
    os.chmod(new_dir, 0o755)
    old = os.readlink(target / DATA) if (target / DATA).is_symlink() else None
    tmp = target / DATA_TMP
    if tmp.is_symlink():
        tmp.unlink()
    os.symlink(new_dir.name, tmp)
    os.rename(tmp, target / DATA)  # the one atomic step
    _relink(target, {Path(rel).parts[0] for rel in wanted})
    if old:
        shutil.rmtree(target / old, ignore_errors=True)
    return True


def _relink(target: Path, top: set[str]) -> None:
    """Top-level names as links through ..data; names no longer in the payload go."""
    for name in top:
        link = target / name
        if not link.is_symlink():
            os.symlink(f"{DATA}/{name}", link)
    for entry in os.listdir(target):
        if entry.startswith("..") or entry in top:
            continue
        p = target / entry
        if p.is_symlink():
            p.unlink()
