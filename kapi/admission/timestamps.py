"""The times upstream's strategies stamp on status writes, which kapi's strategies (kept
free of the clock) leave to this admission step:

- a CertificateSigningRequest condition gets lastUpdateTime when it has none, and
  lastTransitionTime: the old condition's when its status did not change, else now
  (upstream's populateConditionTimestamps);
- a PersistentVolume gets status.lastPhaseTransitionTime when it is created and when
  its phase changes.
"""

from __future__ import annotations

from typing import Any, Callable

from kapi.meta import objects
from kapi.meta.resources import Resource

Obj = dict[str, Any]


class StatusTimestamps:
    def __init__(self, clock: Callable[[], Any]) -> None:
        self.clock = clock

    async def __call__(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        if op not in ("CREATE", "UPDATE") or not isinstance(new.get("status"), dict):
            return
        now = objects.rfc3339(self.clock())
        if r.kind == "CertificateSigningRequest":
            _conditions(new, old, now)
        elif r.kind == "PersistentVolume" and not r.group:
            old_phase = ((old or {}).get("status") or {}).get("phase")
            if old is None or new["status"].get("phase") != old_phase:
                new["status"]["lastPhaseTransitionTime"] = now


def _conditions(new: Obj, old: Obj | None, now: str) -> None:
    before = {c.get("type"): c for c in ((old or {}).get("status") or {}).get("conditions") or ()
              if isinstance(c, dict)}
    for c in new["status"].get("conditions") or ():
        if not isinstance(c, dict):
            continue
        if not c.get("lastUpdateTime"):
            c["lastUpdateTime"] = now
        if not c.get("lastTransitionTime"):
            prev = before.get(c.get("type"))
            same = prev is not None and prev.get("status") == c.get("status")
            c["lastTransitionTime"] = prev.get("lastTransitionTime") if same and prev else now
            if not c["lastTransitionTime"]:
                c["lastTransitionTime"] = now
