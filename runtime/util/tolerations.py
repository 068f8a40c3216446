"""Taints and tolerations (upstream k8s.io/component-helpers/scheduling/corev1 and
core/v1 helpers): whether a toleration tolerates a taint, the first taint of some
effects that a list of tolerations leaves untolerated, and toleration identity.

Pure functions over dicts; the scheduler, the DaemonSet and the node lifecycle
controllers all use these, so they agree on what a toleration means.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

Obj = Mapping[str, Any]


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """Toleration.ToleratesTaint: empty effect or key match all; Exists ignores the value."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    return op == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def tolerated(taint: Obj, tolerations: Iterable[Obj]) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def untolerated(taints: Iterable[Obj], tolerations: list[Any], effects: tuple[str, ...]
                ) -> Any | None:
    """FindMatchingUntoleratedTaint: the first taint with one of `effects` not tolerated."""
    for taint in taints:
        if taint.get("effect") in effects and not tolerated(taint, tolerations):
            return taint
    return None


def same_toleration(a: Obj, b: Obj) -> bool:
    """Toleration.MatchToleration: key, operator, value and effect agree."""
    return all((a.get(f) or "") == (b.get(f) or "") for f in ("key", "operator", "value", "effect"))
