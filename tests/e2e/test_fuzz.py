"""Every operation kapi serves, fuzzed from its own /openapi/v2 (bench/fuzz.py, with
schemathesis): no request may earn a 5xx, and none may take more than a second (a hang
check: the slowest answer is normally a few tens of milliseconds).

Bounded: four generated requests per operation (about 1,500 in all, the same ones every
run) and 75 s at most. `make fuzz` runs the long version."""

from __future__ import annotations

from bench.fuzz import fuzz
from tests.conftest import start_server, stop_server


def test_no_operation_earns_a_5xx_or_hangs(tmp_path):
    s = start_server(tmp_path / "fuzz")
    try:
        report = fuzz(s.url, examples=4, seconds=75, seed=0)
    finally:
        stop_server(s.proc)
    print(f"fuzz: {report.operations} operations, {report.requests} requests in "
          f"{report.seconds:.1f} s; slowest {report.slowest[0]:.3f} s ({report.slowest[1]})")
    assert report.operations > 300 and report.requests > 1000
    assert not report.findings, "\n".join(report.findings)
    assert "Traceback" not in s.log.read_text()
