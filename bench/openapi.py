"""OpenAPI build benchmark: how long kapi takes to build every OpenAPI document it serves.

    python -m bench.openapi            # ~5 s
    python -m bench.openapi --runs 5

Each run starts cold (fresh definitions, fresh OpenAPIDocs) and builds what kubectl and
clients download: /openapi/v2 as JSON and as gnostic protobuf, the /openapi/v3 root and
every /openapi/v3/<key> document. Prints the time of each step and the total per run
(goal: a cold build of everything under 2 s, as the first `kubectl apply` waits for it).
Benchmarks print figures; nothing asserts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Callable

from kapi.meta.schema import load_definitions
from kapi.openapi.documents import OpenAPIDocs
from kapi.registry.kinds import SCHEME

GOAL_SECONDS = 2.0


def _timed(step: Callable[[], object]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def one_run() -> dict[str, float]:
    """Seconds per step of one cold build of every document."""
    out: dict[str, float] = {}
    box: dict[str, OpenAPIDocs] = {}
    out["set up (lazy)"] = _timed(lambda: box.update(
        docs=OpenAPIDocs(SCHEME, load_definitions())))
    docs = box["docs"]
    out["v2 json (+ read)"] = _timed(docs.v2)  # the definitions file is read here
    out["v2 protobuf"] = _timed(docs.v2_protobuf)
    out["v3 documents"] = _timed(lambda: [docs.v3(key) for key in docs.v3_keys()])
    out["v3 root"] = _timed(docs.v3_root)
    out["total"] = sum(out.values())
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.openapi",
                                description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)
    runs = [one_run() for _ in range(max(args.runs, 1))]
    print(f"OpenAPI documents, cold build, {len(runs)} run(s); seconds (median, max)")
    for step in runs[0]:
        values = [r[step] for r in runs]
        print(f"  {step:<18} {statistics.median(values):7.3f} {max(values):7.3f}")
    total = statistics.median(r["total"] for r in runs)
    verdict = "meets" if total < GOAL_SECONDS else "misses"
    print(f"  goal: total < {GOAL_SECONDS:.1f} s: {verdict} ({total:.3f} s median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
