"""PolicyRule matching and covering, as upstream's rbac helpers define them (pure).

A request matches a rule when its verb, API group, resource (with subresource) and name
are each allowed (`*` allows all; `*/sub` any resource's subresource; nonResourceURLs
may end in `*`). One rule set covers another (escalation) when every single permission
the second grants is matched by the first.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence

from kapi.auth import Attributes

Rule = dict[str, Any]


def _has(values: Sequence[str] | None, value: str) -> bool:
    return bool(values) and ("*" in values or value in values)  # type: ignore[operator]


def resource_matches(rule_resources: Sequence[str], resource: str, sub: str) -> bool:
    combined = f"{resource}/{sub}" if sub else resource
    for r in rule_resources:
        if r == "*" or r == combined or (sub and r == f"*/{sub}"):
            return True
    return False


def url_matches(rule_urls: Sequence[str], path: str) -> bool:
    for u in rule_urls:
        if u == "*" or u == path or (u.endswith("*") and path.startswith(u[:-1])):
            return True
    return False


def rule_allows(rule: Rule, a: Attributes) -> bool:
    if not _has(rule.get("verbs"), a.verb):
        return False
    if not a.is_resource:
        return url_matches(rule.get("nonResourceURLs") or (), a.path)
    if not _has(rule.get("apiGroups"), a.group) or \
            not resource_matches(rule.get("resources") or (), a.resource, a.subresource):
        return False
    names = rule.get("resourceNames")
    return not names or a.name in names


def rules_allow(rules: Iterable[Rule], a: Attributes) -> bool:
    return any(rule_allows(r, a) for r in rules)


# -- escalation: does one rule set cover another? ---------------------------------------
def breakdown(rule: Rule) -> Iterator[Rule]:
    """A rule as single-verb, single-group, single-resource, single-name rules (upstream's
    BreakdownRule), so coverage is checked one permission at a time."""
    verbs = rule.get("verbs") or []
    for g in rule.get("apiGroups") or []:
        for r in rule.get("resources") or []:
            for v in verbs:
                names = rule.get("resourceNames") or []
                if names:
                    for n in names:
                        yield {"apiGroups": [g], "resources": [r], "resourceNames": [n],
                               "verbs": [v]}
                else:
                    yield {"apiGroups": [g], "resources": [r], "verbs": [v]}
    for u in rule.get("nonResourceURLs") or []:
        for v in verbs:
            yield {"nonResourceURLs": [u], "verbs": [v]}


def _resources_cover(owned: Sequence[str], wanted: Sequence[str]) -> bool:
    if "*" in owned:
        return True
    for w in wanted:
        if w in owned:
            continue
        if "/" not in w or "*/" + w.split("/", 1)[1] not in owned:
            return False
    return True


def _urls_cover(owned: Sequence[str], wanted: Sequence[str]) -> bool:
    return all(url_matches(owned, w) for w in wanted)


def rule_covers(owner: Rule, sub: Rule) -> bool:
    def every(field: str) -> bool:
        own = owner.get(field) or []
        return "*" in own or all(x in own for x in sub.get(field) or [])

    if not every("verbs") or not every("apiGroups"):
        return False
    if not _resources_cover(owner.get("resources") or [], sub.get("resources") or []):
        return False
    if not _urls_cover(owner.get("nonResourceURLs") or [], sub.get("nonResourceURLs") or []):
        return False
    owned_names = owner.get("resourceNames") or []
    return not owned_names or all(n in owned_names for n in sub.get("resourceNames") or [])


def missing(owner: Sequence[Rule], wanted: Iterable[Rule]) -> list[Rule]:
    """The single permissions of `wanted` that no rule of `owner` covers."""
    return [piece for rule in wanted for piece in breakdown(rule)
            if not any(rule_covers(o, piece) for o in owner)]


def compact(rules: list[Rule]) -> list[Rule]:
    """Single-permission rules on the same group/resource without names merged into one
    rule with several verbs (upstream's CompactRules)."""
    merged: dict[tuple[str, str], Rule] = {}
    out: list[Rule] = []
    for r in rules:
        if r.get("resources") and not r.get("resourceNames"):
            key = (r["apiGroups"][0], r["resources"][0])
            if key in merged:
                merged[key]["verbs"].append(r["verbs"][0])
                continue
            merged[key] = {**r, "verbs": list(r["verbs"])}
            out.append(merged[key])
        else:
            out.append(r)
    return out


def _go_quoted(values: Sequence[str]) -> str:
    """A []string printed with Go's %q: ["a" "b"]."""
    return "[" + " ".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for v in values) + "]"


def compact_string(rule: Rule) -> str:
    """upstream's CompactString: {APIGroups:["apps"], Resources:["deployments"], Verbs:["get"]}."""
    parts = [f"{label}:{_go_quoted(rule[f])}" for label, f in (
        ("APIGroups", "apiGroups"), ("Resources", "resources"),
        ("NonResourceURLs", "nonResourceURLs"), ("ResourceNames", "resourceNames"),
        ("Verbs", "verbs")) if rule.get(f)]
    return "{" + ", ".join(parts) + "}"


def go_strings(values: Sequence[str]) -> str:
    return _go_quoted(values)
