"""ValidatingAdmissionPolicy: CEL validations bound to writes by
ValidatingAdmissionPolicyBindings (upstream's admission/plugin/policy/validating), run
as a validating admission step after validation.

For each binding whose policy exists and whose policy's matchConstraints and own
matchResources select the write: the params it names (paramKind/paramRef: by name or
selector, in a namespace, parameterNotFoundAction), the policy's matchConditions, its
variables, then each validation; a failed validation is a denial (Deny), a warning
(Warn) and/or the audit annotation `validation.policy.admission.k8s.io/validation_failure`
(Audit), with upstream's messages. The policy's auditAnnotations become the request's
audit annotations `<policy>/<key>` (the distinct values of several bindings joined).
Evaluation errors follow the policy's failurePolicy. Reads objects only from the watch
cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from kapi import admission, cel, errors
from kapi.admission.webhooks import matching, review
from kapi.admission.webhooks.dispatch import attributes, review_objects, typed
from kapi.admission.webhooks.matching import Attributes
from kapi.auth import current_user
from kapi.meta.resources import Resource, Scheme
from kapi.storage.cacher import WatchCache

Obj = dict[str, Any]
GROUP = "admissionregistration.k8s.io"
_CODES = {"Unauthorized": 401, "Forbidden": 403, "Invalid": 422, "RequestEntityTooLarge": 413}
FAILURE_ANNOTATION = "validation.policy.admission.k8s.io/validation_failure"
MAX_ANNOTATION = 10 * 1024  # upstream cuts an auditAnnotation's value there


@dataclass
class Decision:
    """A failed validation: its message, the reason the Status carries and the index of
    its expression; `deny` when it denies whatever the binding's actions (a failed
    auditAnnotation under failurePolicy Fail)."""

    message: str
    reason: str = "Invalid"
    index: int = 0
    deny: bool = False


@dataclass
class Outcome:
    """What one policy's evaluation under one binding produced."""

    decisions: list[Decision] = field(default_factory=list)
    annotations: list[tuple[str, str]] = field(default_factory=list)  # (key, value)


class _Failure(Exception):
    """An evaluation error (or missing params): failurePolicy decides."""


def _matches_resources(m: Any, a: Attributes, new: Obj | None, old: Obj | None,
                       ns_labels: Any, *, empty_matches: bool) -> bool:
    """A MatchResources: resourceRules (with resourceNames), excludeResourceRules and
    the two selectors; no resourceRules matches all when `empty_matches`."""
    if not isinstance(m, dict):
        return empty_matches
    ruled = m.get("resourceRules") or []
    if ruled and not any(matching.rule_matches(rl, a) and matching.names_match(rl, a)
                         for rl in ruled):
        return False
    if not ruled and not empty_matches:
        return False
    if any(matching.rule_matches(rl, a) and matching.names_match(rl, a)
           for rl in m.get("excludeResourceRules") or []):
        return False
    if matching.namespace_labels_needed(a) and m.get("namespaceSelector"):
        if not matching.selector_matches(m["namespaceSelector"], ns_labels):
            return False
    return matching.object_selector_matches(m.get("objectSelector"), new, old)


class ValidatingPolicies:
    """The ValidatingAdmissionPolicy validating admission step."""

    def __init__(self, cache: WatchCache, scheme: Scheme) -> None:
        self.cache, self.scheme = cache, scheme
        self.policies = scheme.get(GROUP, "v1", "validatingadmissionpolicies")
        self.bindings = scheme.get(GROUP, "v1", "validatingadmissionpolicybindings")
        self.namespaces = scheme.get("", "v1", "namespaces")

    def _list(self, r: Resource | None, prefix: str = "") -> list[Obj]:
        assert r is not None
        return self.cache.list(r.key_prefix, r.key_prefix + prefix)

    def _namespace(self, a: Attributes, new: Obj | None, old: Obj | None) -> Obj | None:
        if a.resource == "namespaces" and not a.group:
            return new or old
        if not a.namespace:
            return None
        assert self.namespaces is not None
        return self.cache.get(self.namespaces.key_prefix,
                              self.namespaces.key(None, a.namespace))

    async def __call__(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        a = attributes(r, op, new, old)
        if matching.exempt(a):
            return
        bindings = self._list(self.bindings)
        if not bindings:
            return
        policies = {p["metadata"]["name"]: p for p in self._list(self.policies)}
        obj, old_obj = review_objects(self.cache, r, op, new, old)
        ns = self._namespace(a, obj, old_obj)
        ns_labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
        denied: list[tuple[str, str, Decision]] = []
        annotations: dict[str, list[tuple[str, str]]] = {}  # by policy
        for binding in sorted(bindings, key=lambda b: b["metadata"]["name"]):
            policy = policies.get((binding.get("spec") or {}).get("policyName", ""))
            if policy is None:
                continue
            pspec, bspec = policy.get("spec") or {}, binding.get("spec") or {}
            if not _matches_resources(pspec.get("matchConstraints"), a, obj, old_obj,
                                      ns_labels, empty_matches=False) or \
                    not _matches_resources(bspec.get("matchResources"), a, obj, old_obj,
                                           ns_labels, empty_matches=True):
                continue
            outcome = self._evaluate(policy, binding, a, obj, old_obj, ns)
            for decision in outcome.decisions:
                self._act(policy, binding, decision, denied)
            annotations.setdefault(policy["metadata"]["name"], []).extend(outcome.annotations)
        for name, pairs in annotations.items():
            _publish(name, pairs)
        if denied:
            raise _denial(r, a, new, *denied[0])

    def _act(self, policy: Obj, binding: Obj, decision: Decision,
             denied: list[tuple[str, str, Decision]]) -> None:
        p, b = policy["metadata"]["name"], binding["metadata"]["name"]
        actions = (binding.get("spec") or {}).get("validationActions") or []
        if "Deny" in actions or decision.deny:
            denied.append((p, b, decision))
        if "Audit" in actions and not decision.deny:
            admission.annotate_once(FAILURE_ANNOTATION, orjson.dumps([{
                "message": decision.message, "policy": p, "binding": b,
                "expressionIndex": decision.index, "validationActions": actions}]).decode())
        if "Warn" in actions:
            admission.warn(f"Validation failed for ValidatingAdmissionPolicy '{p}' with "
                           f"binding '{b}': {decision.message}")

    def _evaluate(self, policy: Obj, binding: Obj, a: Attributes, obj: Obj | None,
                  old: Obj | None, ns: Obj | None) -> Outcome:
        """Every failed validation of this policy under this binding (for each param
        object when several are selected), and its audit annotations."""
        spec = policy.get("spec") or {}
        out = Outcome()
        try:
            params_list = self._params(spec, binding, a)
        except _Failure as e:
            if spec.get("failurePolicy") != "Ignore":
                out.decisions.append(Decision(str(e)))
            return out
        if params_list is None:
            return out
        req = review.request(a, obj, old, user=current_user(),
                             dry_run=admission.current().dry_run)["request"]
        for params in params_list:
            variables = {"object": obj, "oldObject": old, "request": req, "params": params,
                         "namespaceObject": ns}
            try:
                _validate(spec, variables, out)
            except _Failure as e:
                if spec.get("failurePolicy") != "Ignore":
                    out.decisions.append(Decision(str(e)))
        return out

    def _params(self, spec: Obj, binding: Obj, a: Attributes) -> list[Obj | None] | None:
        """The param objects to evaluate with ([None] without paramKind); None to skip
        (no params and parameterNotFoundAction Allow). Raises _Failure."""
        kind = spec.get("paramKind")
        if not kind:
            return [None]
        ref = (binding.get("spec") or {}).get("paramRef")
        if not ref:
            raise _Failure(f"ValidatingAdmissionPolicy '{spec.get('name', '')}' has a "
                           "paramKind but the binding has no paramRef")
        r = next((x for x in self.scheme.resources if x.api_version == kind.get("apiVersion")
                  and x.kind == kind.get("kind")), None)
        if r is None:
            raise _Failure(f"failed to find resource referenced by paramKind: "
                           f"'{kind.get('apiVersion', '')}, Kind={kind.get('kind', '')}'")
        ns = ref.get("namespace") or (a.namespace if r.namespaced else "")
        if r.namespaced and not ns:
            raise _Failure("cannot use namespaced paramRef in policy binding that matches "
                           "cluster-scoped resources")
        if ref.get("name"):
            found = self.cache.get(r.key_prefix, r.key(ns, ref["name"]))
            params = [found] if found is not None else []
        else:
            prefix = f"{ns}/" if r.namespaced else ""
            params = [o for o in self._list(r, prefix)
                      if matching.selector_matches(ref.get("selector") or {},
                                                   o["metadata"].get("labels"))]
            if ref.get("selector") == {}:
                params = self._list(r, prefix)
        if params:
            return [typed(r, p) for p in params]
        if ref.get("parameterNotFoundAction") == "Deny":
            raise _Failure("no params found for policy binding with `Deny` "
                           "parameterNotFoundAction")
        return None


def _eval(expression: str, variables: dict[str, Any]) -> Any:
    try:
        return cel.compile(expression).evaluate(variables)
    except cel.CELError as e:
        raise _Failure(f"expression '{expression}' resulted in error: {e}") from None


def _validate(spec: Obj, variables: dict[str, Any], out: Outcome) -> None:
    """matchConditions, variables, then the validations (the failed ones into `out`) and
    the auditAnnotations."""
    for cond in spec.get("matchConditions") or []:
        if _eval(cond.get("expression", ""), variables) is not True:
            return
    computed: dict[str, Any] = {}
    variables["variables"] = computed
    for v in spec.get("variables") or []:
        computed[v.get("name", "")] = _eval(v.get("expression", ""), variables)
    for i, v in enumerate(spec.get("validations") or []):
        expr = v.get("expression", "")
        if _eval(expr, variables) is True:
            continue
        message = v.get("message") or f"failed expression: {expr.strip()}"
        if v.get("messageExpression"):
            try:
                m = cel.compile(v["messageExpression"]).evaluate(variables)
                if isinstance(m, str) and m.strip() and "\n" not in m:
                    message = m
            except cel.CELError:
                pass  # upstream keeps the static message when messageExpression fails
        out.decisions.append(Decision(message, v.get("reason") or "Invalid", i))
    for aa in spec.get("auditAnnotations") or []:
        _audit_annotation(spec, aa, variables, out)


def _audit_annotation(spec: Obj, aa: Obj, variables: dict[str, Any], out: Outcome) -> None:
    """One auditAnnotation: a string value is published, null is not; an error or
    another type denies under failurePolicy Fail."""
    expr = aa.get("valueExpression", "")
    try:
        value = cel.compile(expr).evaluate(variables)
        problem = "" if value is None or isinstance(value, str) else (
            f"valueExpression '{expr}' resulted in unsupported return type: "
            f"{type(value).__name__}. Return type must be either string or null.")
    except cel.CELError as e:
        value, problem = None, f"valueExpression '{expr}' resulted in error: {e}"
    if problem:
        if spec.get("failurePolicy") != "Ignore":
            out.decisions.append(Decision(problem, deny=True))
    elif isinstance(value, str):
        out.annotations.append((str(aa.get("key", "")), value[:MAX_ANNOTATION]))


def _publish(policy: str, annotations: list[tuple[str, str]]) -> None:
    """`<policy>/<key>` audit annotations; several bindings' distinct values joined."""
    values: dict[str, list[str]] = {}
    for key, value in annotations:
        if value not in values.setdefault(key, []):
            values[key].append(value)
    for key, vs in values.items():
        admission.annotate_once(f"{policy}/{key}", ", ".join(vs))


def _denial(r: Resource, a: Attributes, new: Obj, policy: str, binding: str,
            decision: Decision) -> errors.APIError:
    message = (f"ValidatingAdmissionPolicy '{policy}' with binding '{binding}' denied "
               f"request: {decision.message}")
    name = a.name or (new.get("metadata") or {}).get("generateName") or ""
    qualified = f"{r.resource}.{r.group}" if r.group else r.resource
    details: Obj = {"name": name} if name else {}
    if r.group:
        details["group"] = r.group
    details |= {"kind": r.resource, "causes": [{"message": message}]}
    return errors.APIError(f'{qualified} "{name}" is forbidden: {message}', details=details,
                           code=_CODES.get(decision.reason, 422), reason=decision.reason)
