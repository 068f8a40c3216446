"""The one architectural rule, checked on every run: components (runtime/) reach the API
server only over HTTP, so nothing in runtime/ imports kapi/, and kapi/ imports runtime/
only in its composition root (kapi/cli.py starts the components of `kapi up`).

The layers inside kapi (endpoints above registry above storage above meta, ...) are an
import-linter contract in pyproject.toml, which `make test` checks with `lint-imports`."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offenders(package: str, forbidden: str, allowed: set[str]) -> list[str]:
    bad = []
    for path in sorted((REPO / package).rglob("*.py")):
        rel = str(path.relative_to(REPO))
        if rel in allowed:
            continue
        for name in _imports(path):
            if name == forbidden or name.startswith(forbidden + "."):
                bad.append(f"{rel} imports {name}")
    return bad


def test_runtime_never_imports_kapi():
    assert _offenders("runtime", "kapi", set()) == []


def test_kapi_imports_runtime_only_in_cli():
    assert _offenders("kapi", "runtime", {"kapi/cli.py"}) == []


def test_the_check_sees_imports(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("import kapi.app\nfrom kapi.meta import objects\n")
    assert _imports(f) == {"kapi.app", "kapi.meta"}
