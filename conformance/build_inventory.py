"""Builds conformance/data/inventory.json, the list of all upstream conformance tests.

Run once by hand when the inventory document changes:
`python -m conformance.build_inventory PATH/TO/CONFORMANCE.md`. The inputs are facts:
the numbered tables of the inventory document (short codename, class, release, area)
and data/upstream_names.tsv (upstream's testname, full codename and file, copied from
upstream's conformance.yaml), plus data/upstream_files.tsv (the upstream file of the
entries known only by their short codename). It never runs during a conformance run; run.py only
reads the JSON it writes.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
ROW = re.compile(r"^\| (\d+) \| (.+?) \| .+ \| (core|stretch|out)[^|]*\| ([^|]+) \|$")


def _areas(line: str, area: str, sub: str) -> tuple[str, str]:
    m = re.match(r"^### 2\.\d+ (.+?) \(\d+ tests", line)
    if m:
        return m.group(1), ""
    if line.startswith("#### "):
        return area, line[5:].strip()
    return area, sub


def parse_doc(text: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    area = sub = ""
    for line in text.splitlines():
        area, sub = _areas(line, area, sub)
        m = ROW.match(line.strip())
        if not m:
            continue
        short = m.group(2).strip()
        rel = m.group(4).strip()
        rows.append({"number": int(m.group(1)), "short": short, "area": area,
                     "subarea": sub, "class": m.group(3),
                     "release": rel.rstrip("†‡ ").strip(), "newer": "†" in rel})
    return rows


def load_names() -> dict[int, tuple[str, str, str]]:
    names = {}
    for line in (DATA / "upstream_names.tsv").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        num, testname, codename, file = line.split("\t")
        full = codename + " [Conformance]"
        # "?": upstream's testname was not in the stored copy; the codename stands in
        names[int(num)] = (full if testname == "?" else testname, full, "test/e2e/" + file)
    return names


def load_files() -> dict[int, str]:
    """upstream_files.tsv: the upstream file of entries upstream_names.tsv lacks."""
    files = {}
    for line in (DATA / "upstream_files.tsv").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        num, file = line.split("\t")[:2]
        files[int(num)] = "test/e2e/" + file
    return files


def build(doc: Path) -> list[dict[str, object]]:
    names, files = load_names(), load_files()
    out = []
    for r in parse_doc(doc.read_text()):
        testname, codename, file = names.get(r["number"], (None, None, None))  # type: ignore[arg-type]
        file = file or files.get(int(r["number"]))  # type: ignore[call-overload]
        short = str(r["short"])
        out.append({**r, "name": testname or short, "codename": codename or short,
                    "file": file, "verified_name": codename is not None,
                    "serial": "[Serial]" in (codename or "") + short,
                    "slow": "[Slow]" in (codename or "") + short})
    return out


def main(argv: list[str]) -> int:
    inv = build(Path(argv[0]))
    (DATA / "inventory.json").write_text(json.dumps(inv, indent=1, ensure_ascii=False) + "\n")
    core = sum(1 for t in inv if t["class"] == "core")
    print(f"{len(inv)} tests, {core} core")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
