"""authorization.k8s.io/v1: SubjectAccessReview, LocalSubjectAccessReview,
SelfSubjectAccessReview and SelfSubjectRulesReview, answered from the authorizer chain
(what `kubectl auth can-i`, with --list, --as and -n, asks). Nothing is stored: a create
returns the review with its status, as upstream's REST for these kinds does.
"""

from __future__ import annotations

from typing import Any

from kapi import errors
from kapi.auth import User, current_user
from kapi.auth.rbac.authorizer import ALLOW, Attrs, Authorizer, always_allow
from kapi.endpoints import codec

Obj = dict[str, Any]
GROUP = "authorization.k8s.io"
KINDS = {"subjectaccessreviews": "SubjectAccessReview",
         "localsubjectaccessreviews": "LocalSubjectAccessReview",
         "selfsubjectaccessreviews": "SelfSubjectAccessReview",
         "selfsubjectrulesreviews": "SelfSubjectRulesReview"}
_RESOURCE_FIELDS = ("namespace", "verb", "group", "version", "resource", "subresource", "name")


def _invalid(kind: str, causes: list[tuple[str, str]]) -> errors.Invalid:
    text = ", ".join(f"{f}: Invalid value: {m}" for f, m in causes)
    msg = f'{kind}.{GROUP} "" is invalid: ' + (text if len(causes) == 1 else f"[{text}]")
    return errors.Invalid(msg, details={"group": GROUP, "kind": kind, "causes": [
        {"reason": "FieldValueInvalid", "message": f"Invalid value: {m}", "field": f}
        for f, m in causes]})


def _attributes(kind: str, spec: Obj) -> Attrs:
    res, non = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if res is not None and non is not None:
        raise _invalid(kind, [("spec.nonResourceAttributes", '"object": cannot be specified '
                                                             "in combination with resourceAttributes")])
    if res is None and non is None:
        raise _invalid(kind, [("spec.resourceAttributes", '"null": exactly one of '
                                                          "nonResourceAttributes or resourceAttributes must be specified")])
    if res is None:
        assert non is not None
        return Attrs(False, path=str(non.get("path") or ""), verb=str(non.get("verb") or ""))
    values = {f: str(res.get(f) or "") for f in _RESOURCE_FIELDS}
    return Attrs(True, **values)


def _spec_user(kind: str, spec: Obj) -> User:
    name, groups = str(spec.get("user") or ""), [str(g) for g in spec.get("groups") or []]
    if not name and not groups:
        raise _invalid(kind, [("spec.user", '"": at least one of user or group must be '
                                            "specified")])
    extra = {str(k): tuple(str(x) for x in v or []) for k, v in (spec.get("extra") or {}).items()}
    return User(name, tuple(groups), str(spec.get("uid") or ""), extra)


class AccessReviews:
    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    async def create(self, resource: str, namespace: str, body: bytes,
                     content_type: str | None) -> Obj:
        kind = KINDS[resource]
        review = codec.decode_body(body, content_type)  # JSON, YAML or protobuf, as any write
        if not isinstance(review, dict) or not isinstance(review.get("spec") or {}, dict):
            raise errors.BadRequest(f"the body of the request is not a {kind}")
        spec = review.get("spec") or {}
        out: Obj = {"kind": kind, "apiVersion": f"{GROUP}/v1",
                    "metadata": {**(review.get("metadata") or {}), "creationTimestamp": None},
                    "spec": spec}
        if resource == "selfsubjectrulesreviews":
            out["status"] = self.rules(current_user(), str(spec.get("namespace") or ""))
            return out
        user = current_user() if resource == "selfsubjectaccessreviews" else _spec_user(kind, spec)
        a = _attributes(kind, spec)
        if resource == "localsubjectaccessreviews" and (not a.is_resource or a.namespace != namespace):
            raise errors.BadRequest(f"spec.resourceAttributes.namespace must match namespace: "
                                    f"{namespace}")
        if a.is_resource and a.resource == "namespaces" and a.name and not a.namespace:
            a.namespace = a.name
        allowed, reason = await self.authorizer.decide_fresh(user, a)
        status: Obj = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        out["status"] = status
        return out

    def rules(self, user: User, namespace: str) -> Obj:
        resource_rules: list[Obj] = []
        non_resource: list[Obj] = []
        problems: list[str] = []
        incomplete = False
        for mode in self.authorizer.modes:
            if mode is always_allow:
                resource_rules.append({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
                non_resource.append({"verbs": ["*"], "nonResourceURLs": ["*"]})
            elif mode is self.authorizer.rbac and self.authorizer.rbac is not None:
                found, error = self.authorizer.rbac.rules_for(user, namespace)
                if error:
                    problems.append(error)
                    incomplete = True
                for r in found:
                    _add_rule(r, resource_rules, non_resource)
            elif getattr(mode, "node_user", None) and mode.node_user(user):  # type: ignore[attr-defined]
                incomplete = True
                problems.append("node authorizer does not support user rule resolution")
        status: Obj = {"resourceRules": resource_rules, "nonResourceRules": non_resource,
                       "incomplete": incomplete}
        if problems:
            status["evaluationError"] = ", ".join(problems)
        return status


def _add_rule(rule: Obj, resource_rules: list[Obj], non_resource: list[Obj]) -> None:
    if rule.get("resources"):
        rr = {"verbs": list(rule.get("verbs") or [])}
        for f in ("apiGroups", "resources", "resourceNames"):
            if rule.get(f):
                rr[f] = list(rule[f])
        resource_rules.append(rr)
    if rule.get("nonResourceURLs"):
        non_resource.append({"verbs": list(rule.get("verbs") or []),
                             "nonResourceURLs": list(rule["nonResourceURLs"])})


__all__ = ["ALLOW", "AccessReviews", "KINDS"]
