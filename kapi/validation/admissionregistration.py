"""Validation of webhook configurations, ValidatingAdmissionPolicies and their bindings
(upstream's pkg/apis/admissionregistration/validation) and of APIServices
(kube-aggregator's apiregistration validation), with upstream's paths and messages.

CEL expressions are compiled here through kapi.cel, so a policy that cannot compile is
refused at write time as upstream refuses it. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Callable
from urllib.parse import urlsplit

from kapi import cel
from kapi.validation import rules
from kapi.validation.field import (
    FieldError,
    duplicate,
    invalid,
    not_supported,
    required,
)

Obj = dict[str, Any]
SIDE_EFFECTS = ("None", "NoneOnDryRun")
REVIEW_VERSIONS = ("v1", "v1beta1")
FAILURE_POLICIES = ("Fail", "Ignore")
OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
ACTIONS = ("Audit", "Deny", "Warn")


def _client_config(cc: Any, path: str) -> list[FieldError]:
    if not isinstance(cc, dict) or bool(cc.get("url")) == bool(cc.get("service")):
        return [required(path, "exactly one of url or service is required")]
    url = cc.get("url")
    if url:
        u = urlsplit(url)
        if u.scheme != "https":
            return [invalid(f"{path}.url", url, "'https' is the only allowed URL scheme")]
        if not u.hostname:
            return [invalid(f"{path}.url", url, "host must be specified")]
        return []
    svc = cc["service"]
    errs = [required(f"{path}.service.{k}", f"service {k} is required")
            for k in ("namespace", "name") if not svc.get(k)]
    port = svc.get("port", 443)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        errs.append(invalid(f"{path}.service.port", port, "port is not valid: "
                            "must be between 1 and 65535, inclusive"))
    return errs


def _rules(rule_list: Any, path: str, with_operations: bool = True) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(rule_list or []):
        p = f"{path}[{i}]"
        if not isinstance(rule, dict):
            errs.append(invalid(p, rule, "must be an object"))
            continue
        if with_operations:
            ops = rule.get("operations") or []
            if not ops:
                errs.append(required(f"{p}.operations", ""))
            for j, op in enumerate(ops):
                if op not in OPERATIONS:
                    errs.append(not_supported(f"{p}.operations[{j}]", op, OPERATIONS))
        for key in ("apiGroups", "apiVersions", "resources"):
            if not rule.get(key):
                errs.append(required(f"{p}.{key}", ""))
        scope = rule.get("scope", "*")
        if scope not in ("*", "Cluster", "Namespaced"):
            errs.append(not_supported(f"{p}.scope", scope, ("*", "Cluster", "Namespaced")))
    return errs


def _match_conditions(conds: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, c in enumerate(conds or []):
        p = f"{path}[{i}]"
        name = c.get("name", "") if isinstance(c, dict) else ""
        if not name:
            errs.append(required(f"{p}.name", ""))
        elif name in seen:
            errs.append(duplicate(f"{p}.name", name))
        seen.add(name)
        errs += _expression(c.get("expression") if isinstance(c, dict) else None,
                            f"{p}.expression")
    return errs


def _expression(expr: Any, path: str) -> list[FieldError]:
    if not expr:
        return [required(path, "")]
    try:
        cel.compile(expr)
    except cel.CELError as e:
        return [invalid(path, expr, f"compilation failed: {e}")]
    return []


def _webhook(hook: Obj, path: str, mutating: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    name = hook.get("name", "")
    if not name:
        errs.append(required(f"{path}.name", ""))
    elif len(name.split(".")) < 3:
        errs.append(invalid(f"{path}.name", name,
                            "should be a domain with at least three segments separated by dots"))
    else:
        errs += [invalid(f"{path}.name", name, m) for m in rules.is_dns1123_subdomain(name)]
    se = hook.get("sideEffects")
    if se is None:
        errs.append(required(f"{path}.sideEffects", "must specify one of None, NoneOnDryRun"))
    elif se not in SIDE_EFFECTS:
        errs.append(not_supported(f"{path}.sideEffects", se, SIDE_EFFECTS))
    versions = hook.get("admissionReviewVersions") or []
    if not any(v in REVIEW_VERSIONS for v in versions):
        errs.append(required(f"{path}.admissionReviewVersions",
                             "must specify one of v1, v1beta1"))
    fp = hook.get("failurePolicy", "Fail")
    if fp not in FAILURE_POLICIES:
        errs.append(not_supported(f"{path}.failurePolicy", fp, FAILURE_POLICIES))
    t = hook.get("timeoutSeconds", 10)
    if not isinstance(t, int) or not 1 <= t <= 30:
        errs.append(invalid(f"{path}.timeoutSeconds", t,
                            "the timeout value must be between 1 and 30 seconds"))
    if mutating and hook.get("reinvocationPolicy", "Never") not in ("Never", "IfNeeded"):
        errs.append(not_supported(f"{path}.reinvocationPolicy", hook["reinvocationPolicy"],
                                  ("IfNeeded", "Never")))
    errs += _client_config(hook.get("clientConfig"), f"{path}.clientConfig")
    errs += _rules(hook.get("rules"), f"{path}.rules")
    errs += _match_conditions(hook.get("matchConditions"), f"{path}.matchConditions")
    return errs


def _configuration(mutating: bool) -> Callable[[Obj], list[FieldError]]:
    def validate(obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        seen: set[str] = set()
        for i, hook in enumerate(obj.get("webhooks") or []):
            path = f"webhooks[{i}]"
            if not isinstance(hook, dict):
                errs.append(invalid(path, hook, "must be an object"))
                continue
            errs += _webhook(hook, path, mutating)
            if hook.get("name") in seen:
                errs.append(duplicate(f"{path}.name", hook["name"]))
            seen.add(hook.get("name", ""))
        return errs
    return validate


validate_mutating_configuration = _configuration(True)
validate_validating_configuration = _configuration(False)


def validate_policy(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    mc = spec.get("matchConstraints")
    if not mc:
        errs.append(required("spec.matchConstraints", ""))
    else:
        if not mc.get("resourceRules"):
            errs.append(required("spec.matchConstraints.resourceRules", ""))
        errs += _rules(mc.get("resourceRules"), "spec.matchConstraints.resourceRules")
    if not spec.get("validations") and not spec.get("auditAnnotations"):
        errs.append(required("spec.validations",
                             "validations or auditAnnotations must contain at least one item"))
    fp = spec.get("failurePolicy", "Fail")
    if fp not in FAILURE_POLICIES:
        errs.append(not_supported("spec.failurePolicy", fp, FAILURE_POLICIES))
    for i, v in enumerate(spec.get("variables") or []):
        if not v.get("name"):
            errs.append(required(f"spec.variables[{i}].name", ""))
        errs += _expression(v.get("expression"), f"spec.variables[{i}].expression")
    for i, v in enumerate(spec.get("validations") or []):
        errs += _expression(v.get("expression"), f"spec.validations[{i}].expression")
        if v.get("messageExpression"):
            errs += _expression(v["messageExpression"],
                                f"spec.validations[{i}].messageExpression")
    errs += _match_conditions(spec.get("matchConditions"), "spec.matchConditions")
    return errs


def validate_binding(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    if not spec.get("policyName"):
        errs.append(required("spec.policyName", ""))
    actions = spec.get("validationActions") or []
    if not actions:
        errs.append(required("spec.validationActions",
                             "at least one validation action is required"))
    for i, a in enumerate(actions):
        if a not in ACTIONS:
            errs.append(not_supported(f"spec.validationActions[{i}]", a, ACTIONS))
    if "Deny" in actions and "Warn" in actions:
        errs.append(invalid("spec.validationActions", actions,
                            "must not contain both Deny and Warn (repeating the same "
                            "validation failure information in the API response and "
                            "headers serves no purpose)"))
    ref = spec.get("paramRef")
    if ref is not None:
        if bool(ref.get("name")) == (ref.get("selector") is not None):
            errs.append(invalid("spec.paramRef", ref,
                                "one of name or selector must be specified"))
        pna = ref.get("parameterNotFoundAction")
        if pna is None:
            errs.append(required("spec.paramRef.parameterNotFoundAction", ""))
        elif pna not in ("Allow", "Deny"):
            errs.append(not_supported("spec.paramRef.parameterNotFoundAction", pna,
                                      ("Allow", "Deny")))
    return errs


def apiservice_name(name: str) -> list[str]:
    """version.group; the group part a DNS subdomain (the local core group: `v1.`)."""
    version, _, group = name.partition(".")
    if not version or "." not in name:
        return ["must be spec.version+\".\"+spec.group"]
    return list(rules.is_dns1123_subdomain(group)) if group else []


def validate_apiservice(obj: Obj) -> list[FieldError]:
    spec, name = obj.get("spec") or {}, obj.get("metadata", {}).get("name", "")
    errs: list[FieldError] = []
    group, version = spec.get("group", ""), spec.get("version", "")
    if not version:
        errs.append(required("spec.version", ""))
    if name != f"{version}.{group}":
        errs.append(invalid("metadata.name", name, 'must be `spec.version+"."+spec.group`'))
    gpm, vp = spec.get("groupPriorityMinimum", 0), spec.get("versionPriority", 0)
    if not isinstance(gpm, int) or not 0 < gpm <= 20000:
        errs.append(invalid("spec.groupPriorityMinimum", gpm,
                            "must be positive and less than 20000"))
    if not isinstance(vp, int) or not 0 < vp <= 1000:
        errs.append(invalid("spec.versionPriority", vp, "must be positive and less than 1000"))
    if spec.get("service") is None:
        if spec.get("caBundle"):
            errs.append(invalid("spec.caBundle", "<bytes>",
                                "local APIServices may not have a caBundle"))
        if spec.get("insecureSkipTLSVerify"):
            errs.append(invalid("spec.insecureSkipTLSVerify", True,
                                "local APIServices may not have insecureSkipTLSVerify"))
    elif spec.get("insecureSkipTLSVerify") and spec.get("caBundle"):
        errs.append(invalid("spec.insecureSkipTLSVerify", True,
                            "may not be true if caBundle is present"))
    return errs
