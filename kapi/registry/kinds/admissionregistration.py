"""admissionregistration.k8s.io/v1 (webhook configurations, ValidatingAdmissionPolicies
and their bindings) and apiregistration.k8s.io/v1 (APIServices): their rows, upstream's
defaults (SetDefaults_ValidatingWebhook, ..._MutatingWebhook, ..._Rule,
..._ServiceReference, ..._ValidatingAdmissionPolicySpec) and validation rules.

What these objects do on every write (calling the webhooks, evaluating the policies,
routing an APIService's group/version) lives in kapi/admission and kapi/endpoints; here
only their shape.
"""

from __future__ import annotations

from typing import Any

from kapi.meta.resources import status_of
from kapi.printers import admissionregistration as printers
from kapi.registry.kinds.base import Strategy, row
from kapi.validation import admissionregistration as rules

GROUP = "admissionregistration.k8s.io"
PKG = "io.k8s.api.admissionregistration.v1"
AGG_GROUP = "apiregistration.k8s.io"
AGG_PKG = "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1"

Obj = dict[str, Any]
_MATCH_DEFAULTS: tuple[tuple[str, Any], ...] = (("matchPolicy", "Equivalent"), ("namespaceSelector", {}),
                   ("objectSelector", {}))


def _default_rules(rule_list: Any) -> None:
    for rule in rule_list or []:
        if isinstance(rule, dict):
            rule.setdefault("scope", "*")


def _default_client_config(cc: Any) -> None:
    if isinstance(cc, dict) and isinstance(cc.get("service"), dict):
        cc["service"].setdefault("port", 443)


def _default_webhook(hook: Obj, mutating: bool) -> None:
    hook.setdefault("failurePolicy", "Fail")
    for k, v in _MATCH_DEFAULTS:
        hook.setdefault(k, dict(v) if isinstance(v, dict) else v)
    hook.setdefault("timeoutSeconds", 10)
    if mutating:
        hook.setdefault("reinvocationPolicy", "Never")
    _default_rules(hook.get("rules"))
    _default_client_config(hook.get("clientConfig"))


def _webhooks_defaulter(mutating: bool) -> Any:
    def default(obj: Obj) -> None:
        for hook in obj.get("webhooks") or []:
            if isinstance(hook, dict):
                _default_webhook(hook, mutating)
    return default


def _default_match_resources(m: Any) -> None:
    if not isinstance(m, dict):
        return
    for k, v in _MATCH_DEFAULTS:
        m.setdefault(k, dict(v) if isinstance(v, dict) else v)
    for key in ("resourceRules", "excludeResourceRules"):
        _default_rules(m.get(key))


def _default_policy(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        spec.setdefault("failurePolicy", "Fail")
        _default_match_resources(spec.get("matchConstraints"))


def _default_binding(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        _default_match_resources(spec.get("matchResources"))


def _default_apiservice(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("service"), dict):
        spec["service"].setdefault("port", 443)


def _cluster(group: str, resource: str, kind: str, pkg: str, **fields: Any) -> Any:
    return row(group, "v1", resource, kind, pkg, namespaced=False, **fields)


MUTATING_WEBHOOK_CONFIGURATIONS = Strategy(
    _cluster(GROUP, "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", PKG,
             categories=("api-extensions",)),
    printer=printers.WEBHOOK_CONFIGURATION, defaulter=_webhooks_defaulter(True),
    validate_rule=rules.validate_mutating_configuration)
VALIDATING_WEBHOOK_CONFIGURATIONS = Strategy(
    _cluster(GROUP, "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", PKG,
             categories=("api-extensions",)),
    printer=printers.WEBHOOK_CONFIGURATION, defaulter=_webhooks_defaulter(False),
    validate_rule=rules.validate_validating_configuration)
VALIDATING_ADMISSION_POLICIES = Strategy(
    _cluster(GROUP, "validatingadmissionpolicies", "ValidatingAdmissionPolicy", PKG,
             categories=("api-extensions",),
             subresources=(status_of("ValidatingAdmissionPolicy"),)),
    printer=printers.POLICY, defaulter=_default_policy, tracks_generation=True,
    validate_rule=rules.validate_policy)
VALIDATING_ADMISSION_POLICY_BINDINGS = Strategy(
    _cluster(GROUP, "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding",
             PKG, categories=("api-extensions",)),
    printer=printers.POLICY_BINDING, defaulter=_default_binding,
    validate_rule=rules.validate_binding)
APISERVICES = Strategy(
    _cluster(AGG_GROUP, "apiservices", "APIService", AGG_PKG, categories=("api-extensions",),
             subresources=(status_of("APIService"),)),
    printer=printers.APISERVICE, defaulter=_default_apiservice,
    validate_rule=rules.validate_apiservice, name_rule=rules.apiservice_name)

KINDS = (MUTATING_WEBHOOK_CONFIGURATIONS, VALIDATING_WEBHOOK_CONFIGURATIONS,
         VALIDATING_ADMISSION_POLICIES, VALIDATING_ADMISSION_POLICY_BINDINGS, APISERVICES)
