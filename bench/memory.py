"""Memory and early-refusal figures of a `kapi apiserver` subprocess (printed, never
judged): its RSS after writing 2,000 ConfigMaps of 256 KiB, after 50 watchers that never
read are fed 500 more such writes, and after the objects are deleted and compacted; then
how fast and after how many sent bytes a 100 MB body is refused, and what ten parallel
100 MB uploads do to RSS.

    python -m bench.memory [--objects 2000] [--size-kib 256] [--watchers 50]
                           [--history-seconds 20]

Goals (issue 8): under 600 MB with the objects and the stuck watchers, back under 200 MB
once they are deleted and compacted, and a 100 MB body refused before it is read.
Every loop is bounded in count and time; the server is ours and stopped by its PID.
"""

from __future__ import annotations

import argparse
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson

from bench.procs import readyz, start_server, stop_server

MIB = 1024 * 1024
SERVER_FLAGS = ("--compact-interval", "2", "--compact-keep", "0")  # + --compact-keep-seconds
BASE = "/api/v1/namespaces/default/configmaps"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(data_dir: Path, port: int, flags: tuple[str, ...]) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "kapi.cli", "apiserver", "--insecure-http", "--data-dir",
            str(data_dir), "--port", str(port), *flags]
    return start_server(argv, data_dir / "server.log", readyz(f"http://127.0.0.1:{port}"),
                        "kapi to become ready")


def write_all(url: str, names: list[str], size: int, *, update: bool = False) -> str:
    """Creates (or replaces) a ConfigMap of `size` bytes per name, 4 at a time; returns
    the last resourceVersion."""
    payload = "x" * size
    last = ["0"]

    def one(c: httpx.Client, name: str) -> None:
        body = orjson.dumps({"metadata": {"name": name}, "data": {"v": payload}})
        r = c.put(f"{BASE}/{name}", content=body) if update else c.post(BASE, content=body)
        r.raise_for_status()
        last[0] = max(last[0], r.json()["metadata"]["resourceVersion"], key=int)

    with httpx.Client(base_url=url, timeout=60) as c, ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: one(c, n), names))
    return last[0]


def stuck_watchers(port: int, n: int) -> list[socket.socket]:
    """n watches from now whose client never reads (small receive buffers fill fast)."""
    out = []
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", port))
        s.sendall(f"GET {BASE}?watch=true HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        out.append(s)
    return out


def wait_compacted(url: str, rv: str, timeout: float = 90) -> float:
    """Seconds until a watch from rv is 410 (the window and storage let it go)."""
    t0 = time.monotonic()
    with httpx.Client(base_url=url, timeout=10) as c:
        while time.monotonic() - t0 < timeout:
            with c.stream("GET", BASE, params={"watch": "true", "resourceVersion": rv,
                                               "timeoutSeconds": "1"}) as r:
                if r.status_code == 410:
                    return time.monotonic() - t0
            time.sleep(1)
    return float("nan")


def send_until_answered(s: socket.socket, chunk: bytes, most: int,
                        seconds: float = 120.0) -> int:
    """Sends chunk after chunk (the socket non-blocking meanwhile) until the server answers
    or closes, `most` bytes have gone, or `seconds` have passed: the bytes sent."""
    sent, pending = 0, b""
    deadline = time.monotonic() + seconds
    s.setblocking(False)
    while sent < most and time.monotonic() < deadline:
        readable, _, _ = select.select([s], [s], [], 5)
        if readable:
            break
        pending = pending or chunk
        try:
            n = s.send(pending)
        except BlockingIOError:
            continue
        except ConnectionError:
            break
        sent, pending = sent + n, pending[n:]
    s.setblocking(True)
    return sent


def upload(port: int, most: int, *, declared: bool) -> tuple[int, float, int]:
    """Sends a `most`-byte body (Content-Length, or chunked) until the server answers:
    (bytes of body sent, seconds to the answer, status code). Bytes sent include what
    the kernel's socket buffers took before the answer arrived."""
    s = socket.create_connection(("127.0.0.1", port))
    framing = f"Content-Length: {most}" if declared else "Transfer-Encoding: chunked"
    t0 = time.monotonic()
    s.sendall(f"POST {BASE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"{framing}\r\n\r\n".encode())
    piece = b" " * 65536
    chunk = piece if declared else b"10000\r\n" + piece + b"\r\n"
    sent = send_until_answered(s, chunk, most)
    s.settimeout(30)
    try:
        head = s.recv(200)
    except OSError:
        head = b""
    elapsed = time.monotonic() - t0
    s.close()
    code = int(head.split()[1]) if head.startswith(b"HTTP/") else 0
    return sent, elapsed, code


def parallel_uploads(port: int, pid: int, n: int, most: int, *, declared: bool
                     ) -> tuple[float, float, list[int]]:
    """n uploads of `most` bytes at once: (RSS before, highest RSS seen meanwhile, codes)."""
    before = rss_mib(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], rss_mib(pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(lambda _: upload(port, most, declared=declared), range(n)))
    done.set()
    sampler.join()
    return before, max(peak[0], rss_mib(pid)), [code for _, _, code in results]


def report(label: str, value: str, goal: str = "") -> None:
    print(f"{label:<66} {value:>14}  {goal}", flush=True)


def run(objects: int, size_kib: int, watchers: int, history: float) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="kapi-bench-memory-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    flags = (*SERVER_FLAGS, "--compact-keep-seconds", str(history))
    proc = start(data_dir, port, flags)
    sockets: list[socket.socket] = []
    try:
        pid = proc.pid
        print(f"kapi apiserver {' '.join(flags)} (defaults otherwise)")
        report("RSS at start", f"{rss_mib(pid):.0f} MiB")
        names = [f"big-{i}" for i in range(objects)]
        updates = min(500, objects)
        t0 = time.monotonic()
        write_all(url, names, size_kib * 1024)
        report(f"RSS after {objects} ConfigMaps of {size_kib} KiB "
               f"({time.monotonic() - t0:.0f} s)", f"{rss_mib(pid):.0f} MiB", "goal < 600 MB")
        sockets = stuck_watchers(port, watchers)
        write_all(url, names[:updates], size_kib * 1024, update=True)
        report(f"RSS after {watchers} stuck watchers fed {updates} updates",
               f"{rss_mib(pid):.0f} MiB", "goal < 600 MB")
        report("peak RSS so far (VmHWM)", f"{rss_mib(pid, 'VmHWM'):.0f} MiB")
        with httpx.Client(base_url=url, timeout=60) as c:
            for name in names:
                c.delete(f"{BASE}/{name}").raise_for_status()
            last = c.get(BASE, params={"limit": "1"}).json()["metadata"]["resourceVersion"]
        waited = wait_compacted(url, str(int(last) - 1))
        report(f"RSS after deleting them and compaction ({waited:.0f} s)",
               f"{rss_mib(pid):.0f} MiB", "goal < 200 MB")
        report("database file", f"{(data_dir / 'kapi.db').stat().st_size / MIB:.0f} MiB")
        for declared in (True, False):
            sent, secs, code = upload(port, 100_000_000, declared=declared)
            how = "Content-Length" if declared else "chunked"
            report(f"100 MB body ({how}): answer {code} after", f"{secs * 1000:.0f} ms",
                   "goal: before reading it")
            report(f"100 MB body ({how}): bytes sent before the answer", f"{sent:,}")
        for declared in (True, False):
            before, peak, codes = parallel_uploads(port, pid, 10, 100_000_000,
                                                   declared=declared)
            how = "Content-Length" if declared else "chunked"
            report(f"10 parallel 100 MB uploads ({how}): RSS before / peak",
                   f"{before:.0f}/{peak:.0f} MiB", "goal: + a few MB")
            report("  their answers", ",".join(str(c) for c in sorted(set(codes))))
        report("database file at the end (+ its WAL)",
               f"{sum(p.stat().st_size for p in data_dir.glob('kapi.db*')) / MIB:.0f} MiB")
    finally:
        for s in sockets:
            s.close()
        stop_server(proc)
        shutil.rmtree(data_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.memory", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--objects", type=int, default=2000)
    p.add_argument("--size-kib", type=int, default=256)
    p.add_argument("--watchers", type=int, default=50)
    p.add_argument("--history-seconds", type=float, default=20.0,
                   help="the server's --compact-keep-seconds (compaction waits for it)")
    args = p.parse_args(argv)
    run(min(args.objects, 20_000), min(args.size_kib, 1024), min(args.watchers, 500),
        min(args.history_seconds, 60.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
