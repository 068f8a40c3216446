"""Printers of the cluster-policy kinds: scheduling.k8s.io PriorityClasses, node.k8s.io
RuntimeClasses, certificates.k8s.io CertificateSigningRequests and
flowcontrol.apiserver.k8s.io FlowSchemas and PriorityLevelConfigurations.

Must never: mutate objects, read the clock, or do I/O.
"""

from __future__ import annotations

from typing import Any

from kapi.printers.common import (
    AGE,
    NAME,
    Column,
    Ctx,
    Obj,
    Printer,
    age,
    get,
    human_duration,
    name,
)

PRIORITY_CLASS_COLUMNS = (
    NAME,
    Column("Value", "value represents the integer value of this priority class. This is the "
                    "actual priority that pods receive when they have the name of this class in "
                    "their pod spec.", type="integer"),
    Column("Global-Default", "globalDefault specifies whether this PriorityClass should be "
                             "considered as the default priority for pods that do not have any "
                             "priority class. Only one PriorityClass can be marked as "
                             "`globalDefault`. However, if more than one PriorityClasses exists "
                             "with their `globalDefault` field set to true, the smallest value "
                             "of such global default PriorityClasses will be used as the "
                             "default priority.", type="boolean"),
    AGE,
    Column("PreemptionPolicy", "preemptionPolicy is the Policy for preempting pods with lower "
                               "priority. One of Never, PreemptLowerPriority. Defaults to "
                               "PreemptLowerPriority if unset."),
)


def priority_class_row(pc: Obj, ctx: Ctx) -> list[Any]:
    return [name(pc), pc.get("value", 0), bool(pc.get("globalDefault")), age(pc, ctx),
            pc.get("preemptionPolicy") or "<unset>"]


RUNTIME_CLASS_COLUMNS = (NAME, Column("Handler", ""), AGE)  # upstream's description is empty


def runtime_class_row(rc: Obj, ctx: Ctx) -> list[Any]:
    return [name(rc), rc.get("handler", ""), age(rc, ctx)]


CSR_COLUMNS = (
    NAME,
    AGE,
    Column("SignerName", "Requested signer for the request. It is a qualified name in the form: "
                         "`scope-hostname.io/name`."),
    Column("Requestor", "Base64-encoded PKCS#10 CSR data"),
    Column("RequestedDuration", "expirationSeconds is the requested duration of validity of the "
                                "issued certificate."),
    Column("Condition", "Conditions applied to the request, such as approval or denial."),
)


def csr_condition(csr: Obj) -> str:
    """extractCSRStatus: Denied beats Approved beats Pending, then ",Failed", ",Issued"."""
    types = {c.get("type") for c in get(csr, "status", "conditions", default=[])
             if isinstance(c, dict)}
    out = "Denied" if "Denied" in types else "Approved" if "Approved" in types else "Pending"
    if "Failed" in types:
        out += ",Failed"
    if get(csr, "status", "certificate"):
        out += ",Issued"
    return out


def csr_row(csr: Obj, ctx: Ctx) -> list[Any]:
    seconds = get(csr, "spec", "expirationSeconds")
    duration = "<none>" if seconds is None else human_duration(seconds)
    return [name(csr), age(csr, ctx), get(csr, "spec", "signerName") or "<none>",
            get(csr, "spec", "username", default=""), duration, csr_condition(csr)]


FLOW_SCHEMA_COLUMNS = (
    NAME,
    Column("PriorityLevel", "`name` is the name of the priority level configuration being "
                            "referenced Required."),
    Column("MatchingPrecedence", "`matchingPrecedence` is used to choose among the FlowSchemas "
                                 "that match a given request. The chosen FlowSchema is among "
                                 "those with the numerically lowest (which we take to be "
                                 "logically highest) MatchingPrecedence."),
    Column("DistinguisherMethod", "`distinguisherMethod` defines how to compute the flow "
                                  "distinguisher for requests that match this schema. `nil` "
                                  "specifies that the distinguisher is disabled and thus will "
                                  "always be the empty string."),
    AGE,
    Column("MissingPL", "references a broken or non-existent PriorityLevelConfiguration"),
)


def flow_schema_row(fs: Obj, ctx: Ctx) -> list[Any]:
    method = get(fs, "spec", "distinguisherMethod", "type") or "*"
    missing = "?"
    for c in get(fs, "status", "conditions", default=[]):
        if isinstance(c, dict) and c.get("type") == "Dangling":
            missing = c.get("status", "")
    return [name(fs), get(fs, "spec", "priorityLevelConfiguration", "name", default=""),
            get(fs, "spec", "matchingPrecedence", default=0), method, age(fs, ctx), missing]


PLC_COLUMNS = (
    NAME,
    Column("Type", "`type` indicates whether this priority level is subject to limitation on "
                   "request execution.  A value of `\"Exempt\"` means that requests of this "
                   "priority level are not subject to a limit (and thus are never queued) and do "
                   "not detract from the capacity made available to other priority levels.  A "
                   "value of `\"Limited\"` means that (a) requests of this priority level _are_ "
                   "subject to limits and (b) some of the server's limited capacity is made "
                   "available exclusively to this priority level. Required."),
    Column("NominalConcurrencyShares", "`nominalConcurrencyShares` (NCS) contributes to the "
                                       "computation of the NominalConcurrencyLimit (NominalCL) "
                                       "of this level."),
    Column("Queues", "`queues` is the number of queues for this priority level. The queues "
                     "exist independently at each apiserver. The value must be positive.  "
                     "Setting it to 1 effectively precludes shufflesharding and thus makes the "
                     "distinguisher method of associated flow schemas irrelevant.  This field "
                     "has a default value of 64."),
    Column("HandSize", "`handSize` is a small positive number that configures the shuffle "
                       "sharding of requests into queues."),
    Column("QueueLengthLimit", "`queueLengthLimit` is the maximum number of requests allowed to "
                               "be waiting in a given queue of this priority level at a time; "
                               "excess requests are rejected.  This value must be positive.  "
                               "If not specified, it will be defaulted to 50."),
    AGE,
)


def plc_row(plc: Obj, ctx: Ctx) -> list[Any]:
    ncs = queues = hand = limit = "<none>"
    limited = get(plc, "spec", "limited")
    if get(plc, "spec", "type") == "Limited" and isinstance(limited, dict):
        ncs = str(limited.get("nominalConcurrencyShares", 0))
        q = get(limited, "limitResponse", "queuing")
        if isinstance(q, dict):
            queues, hand, limit = (str(q.get(k, 0)) for k in ("queues", "handSize",
                                                              "queueLengthLimit"))
    return [name(plc), get(plc, "spec", "type", default=""), ncs, queues, hand, limit,
            age(plc, ctx)]


PRIORITY_CLASS = Printer(PRIORITY_CLASS_COLUMNS, priority_class_row)
RUNTIME_CLASS = Printer(RUNTIME_CLASS_COLUMNS, runtime_class_row)
CSR = Printer(CSR_COLUMNS, csr_row)
FLOW_SCHEMA = Printer(FLOW_SCHEMA_COLUMNS, flow_schema_row)
PRIORITY_LEVEL = Printer(PLC_COLUMNS, plc_row)
