"""The host side of `kapi proxy`: writes the rules of rules.py with one
`iptables-restore --noflush`, keeps the jumps into them from the built-in chains, and
the routes of the service CIDR; removes its own on shutdown.

Order matters for the promise that the service CIDR never routes off the machine:
  1. an `unreachable` route for the CIDR (main table) before anything else; it stays
     after shutdown, so with no proxy running the CIDR is refused on the host;
  2. our chains, with the filter REJECT for new connections nothing DNATed;
  3. then a `local` route for the CIDR (local table, consulted first) so that host
     clients' packets reach the nat OUTPUT chain instead of failing at connect().
Shutdown undoes 3 and 2 only. Every name carries the cluster id; nothing else is
touched (no flush of a built-in chain, no other chain, no other route).
"""

from __future__ import annotations

import logging
import subprocess
import threading
from pathlib import Path
from typing import Sequence

from runtime.proxy import rules

log = logging.getLogger(__name__)


class HostError(RuntimeError):
    """A command that programs the host failed (its stderr is the message)."""


def _run(args: Sequence[str], *, stdin: str | None = None, check: bool = True) -> bool:
    p = subprocess.run(list(args), input=stdin, capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise HostError(f"{' '.join(args[:3])}: {p.stderr.strip() or p.returncode}")
    return p.returncode == 0


def own_chains(saved: str, cluster_id: str) -> tuple[set[str], set[str]]:
    """(nat, filter) chains of this cluster in `iptables-save` output."""
    found: dict[str, set[str]] = {"nat": set(), "filter": set()}
    table = ""
    for line in saved.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":") and table in found:
            name = line[1:].split()[0]
            parts = name.split("-")
            if name.startswith(rules.PREFIX) and len(parts) >= 3 and parts[2] == cluster_id:
                found[table].add(name)
    return found["nat"], found["filter"]


class HostNetwork:
    def __init__(self, config: rules.ProxyConfig, *, bridge: str = "docker0") -> None:
        self.config = config
        self.bridge = bridge
        self._local_route = False
        self._localnet_before: str | None = None
        self._written: dict[tuple[str, str], list[str]] | None = None  # None: resync all
        # sync() and cleanup() run in worker threads: a sync still running when the
        # proxy stops must finish before cleanup, and none may write after it
        self._lock = threading.Lock()
        self._closed = False

    # -- routes and sysctl --------------------------------------------------------------
    def refuse_cidr(self) -> None:
        """Step 1: the CIDR unreachable, unless that route exists already."""
        cidr = self.config.service_cidr
        if f"unreachable {cidr}" not in self._routes("main"):
            _run(["ip", "route", "add", "unreachable", cidr])

    def _routes(self, table: str) -> str:
        p = subprocess.run(["ip", "-4", "route", "show", "table", table], capture_output=True,
                           text=True, timeout=30)
        return p.stdout

    def _localnet(self) -> Path:
        return Path(f"/proc/sys/net/ipv4/conf/{self.bridge}/route_localnet")

    def open_cidr(self) -> None:
        """Step 3: ClusterIPs local to the host while our rules are in place; and node
        ports on 127.0.0.1 (DNAT of a loopback source needs route_localnet on the
        bridge, as upstream sets it)."""
        cidr = self.config.service_cidr
        if f"local {cidr} " not in self._routes("local"):
            _run(["ip", "route", "add", "local", cidr, "dev", "lo", "table", "local"])
        self._local_route = True
        path = self._localnet()
        # only the cluster that turned it on turns it back off (when no other is left)
        if path.exists() and self._localnet_before is None and path.read_text().strip() != "1":
            self._localnet_before = path.read_text().strip()
            path.write_text("1")

    # -- rules --------------------------------------------------------------------------
    def sync(self, chains: rules.Chains) -> bool:
        """Write our rules in one batch: all of them (after a start or full_resync(),
        deleting any other chain of ours found on the host), else only the chains that
        changed since the last write. True if anything was written."""
        with self._lock:
            return False if self._closed else self._sync(chains)

    def _sync(self, chains: rules.Chains) -> bool:
        wanted = chains.by_chain()
        if self._written is None:
            nat, filt = own_chains(self._save(), self.config.cluster_id)
            text = chains.restore_text(nat - set(chains.nat), filt - set(chains.filter))
        else:
            text = rules.changed_text(self._written, wanted)
        if text:
            self._written = None  # a failed write means a full one next time
            _run(["iptables-restore", "--noflush"], stdin=text)
        if self._written is None:
            self._ensure_jumps()
        self._written = wanted
        if not self._local_route:
            self.open_cidr()
        return bool(text)

    def full_resync(self) -> None:
        """The next sync rewrites everything (e.g. after someone removed our rules)."""
        self._written = None

    def _save(self) -> str:
        p = subprocess.run(["iptables-save"], capture_output=True, text=True, timeout=30)
        return p.stdout

    def _ensure_jumps(self) -> None:
        for table, chain, spec in rules.jumps(self.config.cluster_id, self.config.service_cidr):
            if not _run(["iptables", "-t", table, "-C", chain, *spec], check=False):
                _run(["iptables", "-t", table, "-I", chain, "1", *spec])

    def cleanup(self) -> None:
        """Remove our jumps, chains, local route and sysctl change; the unreachable
        route stays (the CIDR must stay refused)."""
        with self._lock:
            self._closed = True
            self._cleanup()

    def _cleanup(self) -> None:
        for table, chain, spec in rules.jumps(self.config.cluster_id, self.config.service_cidr):
            for _ in range(10):  # bounded: a jump added twice by a crash is removed too
                if not _run(["iptables", "-t", table, "-D", chain, *spec], check=False):
                    break
        saved = self._save()
        nat, filt = own_chains(saved, self.config.cluster_id)
        if nat or filt:
            _run(["iptables-restore", "--noflush"],
                 stdin=rules.Chains().restore_text(nat, filt))
        self._written = None
        # another kapi cluster on this host still relying on the same route or sysctl
        # keeps it (its jumps name the same CIDR; any of its chains means node ports)
        others = [line for line in saved.splitlines() if "kapi cluster" in line
                  and f"kapi cluster {self.config.cluster_id}" not in line]
        shared = any(f"-d {self.config.service_cidr} " in line for line in others)
        if not shared and f"local {self.config.service_cidr} " in self._routes("local"):
            _run(["ip", "route", "del", "local", self.config.service_cidr, "dev", "lo",
                  "table", "local"], check=False)
        self._local_route = False
        if self._localnet_before is not None and self._localnet().exists() and not others:
            self._localnet().write_text(self._localnet_before)
            self._localnet_before = None
