"""admissionregistration.k8s.io and apiregistration.k8s.io printers: webhook
configurations (NAME, WEBHOOKS, AGE), ValidatingAdmissionPolicies (NAME, VALIDATIONS,
PARAMKIND, AGE), their bindings (NAME, POLICYNAME, PARAMREF, AGE) and APIServices (NAME,
SERVICE, AVAILABLE, AGE), with upstream's cells.

Must never: mutate objects, read the clock, or do I/O.
"""

from __future__ import annotations

from typing import Any

from kapi.printers.common import AGE, NAME, Column, Ctx, Obj, Printer, age, get, name

WEBHOOK_CONFIGURATION = Printer(
    (NAME, Column("Webhooks", "Webhooks indicates the number of webhooks in the object",
                  type="integer"), AGE),
    lambda o, ctx: [name(o), len(o.get("webhooks") or []), age(o, ctx)])


def _param_kind(o: Obj) -> str:
    pk = get(o, "spec", "paramKind", default=None)
    if not pk:
        return "<unset>"
    return f"{pk.get('apiVersion', '')}/{pk.get('kind', '')}"


POLICY = Printer(
    (NAME, Column("Validations", "Validations indicates the number of validation rules",
                  type="integer"),
     Column("ParamKind", "ParamKind specifies the kind of resources used to parameterize "
                         "this policy"), AGE),
    lambda o, ctx: [name(o), len(get(o, "spec", "validations", default=None) or []),
                    _param_kind(o), age(o, ctx)])


def _param_ref(o: Obj) -> str:
    ref = get(o, "spec", "paramRef", default=None)
    if not ref:
        return "<unset>"
    ns, n = ref.get("namespace", ""), ref.get("name", "")
    if n:
        return f"{ns}/{n}" if ns else f"*/{n}"
    return "*/*"


POLICY_BINDING = Printer(
    (NAME, Column("PolicyName", "PolicyName indicates the policy definition which the "
                                "policy binding binded to"),
     Column("ParamRef", "ParamRef indicates the param resource which sets the "
                        "configration param"), AGE),
    lambda o, ctx: [name(o), get(o, "spec", "policyName", default=""), _param_ref(o),
                    age(o, ctx)])


def _service(o: Obj) -> str:
    svc = get(o, "spec", "service", default=None)
    if not svc:
        return "Local"
    return f"{svc.get('namespace', '')}/{svc.get('name', '')}"


def _available(o: Obj) -> str:
    for c in get(o, "status", "conditions", default=None) or []:
        if c.get("type") == "Available":
            if c.get("status") == "True":
                return "True"
            return f"{c.get('status', '')} ({c.get('reason', '')})"
    return "Unknown"


def apiservice_row(o: Obj, ctx: Ctx) -> list[Any]:
    return [name(o), _service(o), _available(o), age(o, ctx)]


APISERVICE = Printer(
    (NAME, Column("Service", "The reference to the service that hosts this API endpoint."),
     Column("Available", "Whether this service is available."), AGE), apiservice_row)
