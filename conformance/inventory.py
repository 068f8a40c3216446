"""The inventory of upstream conformance tests (data/inventory.json), read-only.

Owns loading and looking up entries by codename. It never changes the data file: that
is built by build_inventory.py from the inventory document.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

PATH = Path(__file__).resolve().parent / "data" / "inventory.json"


@lru_cache(maxsize=1)
def load() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(PATH.read_text()))


@lru_cache(maxsize=1)
def _index() -> dict[str, dict[str, Any]]:
    return {t["codename"]: t for t in load()}


def by_codename(codename: str) -> dict[str, Any]:
    try:
        return _index()[codename]
    except KeyError:
        raise KeyError(f"not an upstream conformance test in the inventory: {codename!r}") from None
