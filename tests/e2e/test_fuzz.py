"""Every operation kapi serves, fuzzed from its own /openapi/v2 (bench/fuzz.py, with
schemathesis): no request may earn a 5xx, and none may hang (10 s: the slowest answer is
normally a few tens of milliseconds; the margin is for a loaded machine).

Bounded: four generated requests per operation (about 1,500 in all, the same ones every
run), every operation covered, with a 10-minute safety stop. `make fuzz` runs the long
version."""

from __future__ import annotations

import pytest

from bench.fuzz import fuzz
from tests.conftest import start_server, stop_server


# pytest's default 300 s would stop the test before its own 600 s safety stop: under
# load (or as the API grows) generation alone has taken 160-200 s
@pytest.mark.timeout(900)
def test_no_operation_earns_a_5xx_or_hangs(tmp_path):
    s = start_server(tmp_path / "fuzz")
    try:
        report = fuzz(s.url, examples=4, seconds=600, seed=0, slow=10.0,
                      verify=s.ssl_context())
    finally:
        stop_server(s.proc)
    print(f"fuzz: {report.operations} operations, {report.requests} requests in "
          f"{report.seconds:.1f} s; slowest {report.slowest[0]:.3f} s ({report.slowest[1]})")
    assert report.total > 300 and report.operations == report.total, \
        f"fuzzed {report.operations} of {report.total} operations before the safety stop"
    assert report.requests > 1000
    assert not report.findings, "\n".join(report.findings)
    assert "Traceback" not in s.log.read_text()
