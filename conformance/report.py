"""The run's results as a summary line, a JSON report and a JUnit XML file.

Owns the report formats only; it never runs a test. Every selected upstream test has
exactly one entry, whatever happened to it.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any


def entry(r: dict[str, Any]) -> dict[str, Any]:
    t = r["test"]
    e = {"name": t["codename"], "codename": t["codename"], "testname": t["name"],
         "area": t["area"], "class": t["class"], "release": t["release"],
         "file": t["file"], "result": r["result"], "seconds": r["seconds"]}
    if r["result"] != "passed":
        e["reason"] = r.get("reason", "")
    return e


def counts(results: list[dict[str, Any]]) -> Counter[str]:
    return Counter(r["result"] for r in results)


def summary(results: list[dict[str, Any]]) -> str:
    c = counts(results)
    return (f"{c['passed']} of {len(results)} passed, {c['failed']} failed, "
            f"{c['not ported']} not ported, {c['skipped']} skipped (feature absent)")


def by_area(results: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in results:
        key = f"{r['test']['area']} ({r['test']['class']})"
        out.setdefault(key, {"passed": 0, "failed": 0, "skipped": 0, "not ported": 0})
        out[key][r["result"]] += 1
    return out


def write_json(path: str, results: list[dict[str, Any]], run: Any) -> None:
    doc = {"run_id": run.run_id, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "features": sorted(run.features), "summary": summary(results),
           "counts": dict(counts(results)), "by_area": by_area(results),
           "tests": [entry(r) for r in results]}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)


def write_junit(path: str, results: list[dict[str, Any]]) -> None:
    c = counts(results)
    suite = ET.Element("testsuite", name="kapi conformance", tests=str(len(results)),
                       failures=str(c["failed"]), skipped=str(c["skipped"] + c["not ported"]),
                       time=f"{sum(r['seconds'] for r in results):.3f}")
    for r in results:
        tc = ET.SubElement(suite, "testcase", name=r["test"]["codename"],
                           classname=r["test"]["area"], time=f"{r['seconds']:.3f}")
        if r["result"] == "failed":
            ET.SubElement(tc, "failure", message=r.get("reason", "")[:500]).text = r.get("trace", "")
        elif r["result"] != "passed":
            ET.SubElement(tc, "skipped", message=f"{r['result']}: {r.get('reason', '')}")
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
