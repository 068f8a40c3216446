"""Which admission hooks a write concerns: upstream's rule matching
(admission/plugin/webhook/predicates/rules), the namespace and object selectors
(.../predicates/namespace, .../object) and the exemption of the admission
configuration kinds themselves, as pure functions over dicts.

Shared by webhooks and ValidatingAdmissionPolicies (their matchResources use the same
rules). Must never do I/O: the caller hands in the namespace's labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kapi.meta.selectors import SelectorError, label_selector_from_dict

Obj = dict[str, Any]

ADMISSION_GROUP = "admissionregistration.k8s.io"
# writes to these are never sent to webhooks or policies, so a broken hook can always be
# removed (upstream's IsExemptAdmissionConfigurationResource)
EXEMPT = frozenset({"validatingwebhookconfigurations", "mutatingwebhookconfigurations",
                    "validatingadmissionpolicies", "validatingadmissionpolicybindings",
                    "mutatingadmissionpolicies", "mutatingadmissionpolicybindings"})


@dataclass(frozen=True)
class Attributes:
    """What a rule is matched against: upstream's admission.Attributes, minus objects."""

    group: str
    version: str
    resource: str
    subresource: str
    kind: str
    operation: str
    namespaced: bool
    namespace: str
    name: str


def exempt(a: Attributes) -> bool:
    return a.group == ADMISSION_GROUP and a.resource in EXEMPT


def _listed(values: Any, want: str) -> bool:
    return bool(values) and ("*" in values or want in values)


def _resource_matches(patterns: Any, resource: str, subresource: str) -> bool:
    """`pods` the resource alone; `pods/status` one subresource; `pods/*` every
    subresource of pods; `*` every resource without subresources; `*/*` everything;
    `*/scale` one subresource of every resource."""
    for p in patterns or []:
        res, _, sub = p.partition("/")
        if "/" not in p:
            if not subresource and res in ("*", resource):
                return True
        elif res in ("*", resource) and sub in ("*", subresource):
            return True
    return False


def rule_matches(rule: Obj, a: Attributes, *, operations: bool = True) -> bool:
    if operations and not _listed(rule.get("operations"), a.operation):
        return False
    if not _listed(rule.get("apiGroups"), a.group) or \
            not _listed(rule.get("apiVersions"), a.version):
        return False
    scope = rule.get("scope") or "*"
    namespaced = a.namespaced and not (a.resource == "namespaces" and not a.group)
    if (scope == "Cluster" and namespaced) or (scope == "Namespaced" and not namespaced):
        return False
    return _resource_matches(rule.get("resources"), a.resource, a.subresource)


def any_rule_matches(rules: Any, a: Attributes) -> bool:
    return any(rule_matches(r, a) for r in rules or [])


def names_match(rule: Obj, a: Attributes) -> bool:
    """A NamedRuleWithOperations: resourceNames, when given, must list the name."""
    names = rule.get("resourceNames") or []
    return not names or a.name in names


def selector_matches(selector: Any, labels: Any) -> bool:
    """An empty or absent selector matches everything; a malformed one nothing."""
    if not selector:
        return True
    try:
        return label_selector_from_dict(selector).matches(labels or {})
    except SelectorError:
        return False


def object_selector_matches(selector: Any, new: Obj | None, old: Obj | None) -> bool:
    """Either the new or the old object's labels may match (upstream's objectSelector)."""
    if not selector:
        return True
    objs = [o for o in (new, old) if o is not None]
    return any(selector_matches(selector, (o.get("metadata") or {}).get("labels"))
               for o in objs)


def namespace_labels_needed(a: Attributes) -> bool:
    """Cluster-scoped objects (except Namespaces themselves) ignore namespaceSelector."""
    return a.namespaced or (a.resource == "namespaces" and not a.group)
