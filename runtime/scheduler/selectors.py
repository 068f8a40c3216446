"""Label selectors and node selector terms as the scheduler evaluates them.

Pure predicates over plain dicts: metav1.LabelSelector (matchLabels, matchExpressions
In/NotIn/Exists/DoesNotExist) and v1.NodeSelectorTerm (matchExpressions incl. Gt/Lt,
matchFields on metadata.name). An empty LabelSelector matches everything, a nil one
nothing; an empty NodeSelectorTerm matches nothing, as upstream.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

Obj = dict[str, Any]
Labels = Mapping[str, str]
LabelMatcher = Callable[[Labels], bool]


def _expression(e: Obj, labels: Labels) -> bool:
    key, op, values = e.get("key", ""), e.get("operator", ""), e.get("values") or []
    has = key in labels
    if op == "In":
        return has and labels[key] in values
    if op == "NotIn":
        return not has or labels[key] not in values
    if op == "Exists":
        return has
    if op == "DoesNotExist":
        return not has
    if op in ("Gt", "Lt") and has and len(values) == 1:
        try:
            left, right = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return left > right if op == "Gt" else left < right
    return False


def label_selector(sel: Obj | None) -> LabelMatcher:
    """A matcher for a metav1.LabelSelector."""
    if sel is None:
        return lambda labels: False
    match_labels = dict(sel.get("matchLabels") or {})
    exprs = list(sel.get("matchExpressions") or [])

    def matches(labels: Labels) -> bool:
        for k, v in match_labels.items():
            if labels.get(k) != v:
                return False
        return all(_expression(e, labels) for e in exprs)
    return matches


def node_selector_term(term: Obj, node_name: str, labels: Labels) -> bool:
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False
    if not all(_expression(e, labels) for e in exprs):
        return False
    return all(_expression(f, {"metadata.name": node_name}) for f in fields)


def node_selector(terms: list[Obj], node_name: str, labels: Labels) -> bool:
    """v1.NodeSelector: the terms are ORed."""
    return any(node_selector_term(t, node_name, labels) for t in terms)
