"""Fuzz every operation kapi serves, from its own /openapi/v2, with schemathesis.

Each operation gets `examples` generated requests (path and query parameters, bodies
from the kind's schema, including ones that break it); a 5xx, or an answer slower than
`slow` seconds (a hang check, not a benchmark), is a finding. Namespaced paths use one
namespace made for the run, so generated deletes stay there.

    python -m bench.fuzz [--examples 25] [--seconds 600] [--seed 0]

starts its own server (in a temporary data dir) unless given --url, prints each
finding with the request that caused it, and exits 1 if there was any. The bounded
run in the test suite (tests/e2e/test_fuzz.py) calls `fuzz` with a few examples.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx

FUZZ_NAMESPACE = "fuzz"

# (method, path, response) -> what is wrong with the answer, or None: a check beyond
# "no 5xx, no hang" (tests/e2e/test_anonymous.py: no credentials earn only 401)
Expect = Callable[[str, str, httpx.Response], "str | None"]


@dataclass
class Report:
    requests: int = 0
    operations: int = 0
    total: int = 0  # operations the server's OpenAPI lists
    seconds: float = 0.0
    findings: list[str] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")


def _operations(doc: dict[str, Any]) -> list[Any]:
    import schemathesis

    schema = schemathesis.openapi.from_dict(doc)
    return [result.ok() for result in schema.get_all_operations()]


def _run_operation(op: Any, url: str, client: httpx.Client, report: Report, examples: int,
                   seed: int, slow: float, expect: Expect | None = None) -> None:
    from hypothesis import HealthCheck, Phase, given, settings

    @given(case=op.as_strategy())
    @settings(max_examples=examples, deadline=None, database=None, derandomize=seed == 0,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    def check(case: Any) -> None:
        if "namespace" in (case.path_parameters or {}):
            case.path_parameters["namespace"] = FUZZ_NAMESPACE
        kwargs = case.as_transport_kwargs(base_url=url)
        params = kwargs.get("params") or {}
        watch = "/watch/" in kwargs["url"] or str(params.get("watch")).lower() in ("true", "1")
        started = time.monotonic()
        with client.stream(kwargs["method"], kwargs["url"], params=params,
                           headers=kwargs.get("headers"), content=_content(kwargs)) as r:
            # a watch streams until it times out: its headers are the answer (a refusal
            # has a body, and is read)
            if not watch or r.status_code != 200:
                r.read()
            took = time.monotonic() - started
        report.requests += 1
        what = f"{case.method} {kwargs['url']} params={kwargs.get('params')}"
        if took > report.slowest[0]:
            report.slowest = (took, what)
        if r.status_code >= 500:
            text = r.text[:300] if not watch else ""
            report.findings.append(f"{r.status_code} {what} body={_content(kwargs)!r:.3000}"
                                   f" -> {text}")
        elif took > slow:
            report.findings.append(f"slow ({took:.2f} s) {what}")
        wrong = expect(case.method, kwargs["url"][len(url):], r) if expect else None
        if wrong:
            report.findings.append(f"{wrong}: {what}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # schemathesis' and hypothesis' notes on schemas
        check()


def _content(kwargs: dict[str, Any]) -> bytes | None:
    if "json" in kwargs:
        import json
        return json.dumps(kwargs["json"]).encode()
    data = kwargs.get("data") or kwargs.get("content")
    return data.encode() if isinstance(data, str) else data


def fuzz(url: str, *, examples: int, seconds: float, seed: int = 0,
         slow: float = 1.0, verify: Any = True, expect: Expect | None = None,
         openapi: dict[str, Any] | None = None) -> Report:
    """Fuzz the server at url (over https, `verify`: an ssl.SSLContext with the CA and
    the client certificate, or the CA alone to fuzz with no credentials); stops starting
    new operations after `seconds`. `expect` judges every answer besides; `openapi`: the
    server's /openapi/v2, for a client that may not read it."""
    report = Report()
    started = time.monotonic()
    with httpx.Client(timeout=30, verify=verify) as client:
        client.post(url + "/api/v1/namespaces", json={"metadata": {"name": FUZZ_NAMESPACE}})
        ops = _operations(openapi or client.get(url + "/openapi/v2", timeout=30).json())
        report.total = len(ops)
        if seed:
            import random
            random.Random(seed).shuffle(ops)
        for op in ops:
            if time.monotonic() - started > seconds:
                break
            _run_operation(op, url, client, report, examples, seed, slow, expect)
            report.operations += 1
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="a running kapi over plain HTTP (default: start one)")
    p.add_argument("--examples", type=int, default=25, help="requests per operation")
    p.add_argument("--seconds", type=float, default=600, help="time budget")
    p.add_argument("--seed", type=int, default=0, help="0: the same cases every run")
    args = p.parse_args(argv)
    server = None
    url, verify = args.url, True
    if url is None:
        from tests.conftest import start_server
        server = start_server(Path(tempfile.mkdtemp(prefix="kapi-fuzz-")))
        url, verify = server.url, server.ssl_context()
    try:
        report = fuzz(url, examples=args.examples, seconds=args.seconds, seed=args.seed,
                      verify=verify)
    finally:
        if server is not None:
            from tests.conftest import stop_server
            stop_server(server.proc)
    for f in report.findings:
        print(f)
    print(f"fuzz: {report.operations} operations, {report.requests} requests in "
          f"{report.seconds:.1f} s; {len(report.findings)} findings; slowest "
          f"{report.slowest[0]:.3f} s ({report.slowest[1]})")
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
