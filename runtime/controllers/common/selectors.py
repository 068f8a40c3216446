"""A tiny matcher for metav1.LabelSelector dicts (matchLabels + matchExpressions).

Semantics as upstream's LabelSelectorAsSelector: a None selector selects nothing, an
empty one ({}) selects everything; operators In, NotIn, Exists, DoesNotExist (NotIn
also matches when the key is absent). `to_query` renders the selector in the label
selector grammar for list calls.

Pure functions over dicts; must never do I/O, and never import kapi (runtime/ is an
API client: the server's own selector code is out of bounds).
"""

from __future__ import annotations

from typing import Any, Mapping

Selector = Mapping[str, Any]


def _expression_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op = expr.get("key", ""), expr.get("operator", "")
    values = expr.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False  # an unknown operator selects nothing (upstream rejects it)


def matches(selector: Selector | None, labels: Mapping[str, str] | None) -> bool:
    """Whether `labels` satisfy `selector`."""
    if selector is None:
        return False
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    return all(_expression_matches(e, labels) for e in selector.get("matchExpressions") or [])


def is_empty(selector: Selector | None) -> bool:
    """True for {} (which selects everything); False for None (which selects nothing)."""
    return selector is not None and not selector.get("matchLabels") and not selector.get(
        "matchExpressions")


def to_query(selector: Selector | None) -> str:
    """The selector as a labelSelector query string (`a=b,c in (d,e),!f`)."""
    if selector is None:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        key, op = e.get("key", ""), e.get("operator", "")
        values = ",".join(sorted(e.get("values") or []))
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                      "Exists": key, "DoesNotExist": f"!{key}"}.get(op, ""))
    return ",".join(p for p in parts if p)
