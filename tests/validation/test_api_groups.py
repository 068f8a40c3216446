"""Validation of the storage, scheduling, node, networking, certificates and flow-control
kinds, with upstream's paths and wording; and their printers' cells."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from kapi.printers.cluster import csr_condition, flow_schema_row, plc_row
from kapi.printers.common import Ctx
from kapi.printers.networking import format_hosts, ingress_class_row
from kapi.registry.kinds import SCHEME
from tests.validation.test_kinds import validate, validate_update

Obj = dict[str, Any]


def msgs(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def meta(name: str = "x") -> Obj:
    return {"name": name}


def test_storage_class_rules() -> None:
    sc = {"metadata": meta("fast"), "provisioner": "example.com/fast",
          "volumeBindingMode": "Immediate", "reclaimPolicy": "Delete"}
    assert validate("storage.k8s.io", "StorageClass", sc) == []
    assert msgs(validate("storage.k8s.io", "StorageClass", {**sc, "provisioner": ""})) == [
        "provisioner: Required value"]
    new = {**sc, "parameters": {"type": "ssd"}, "reclaimPolicy": "Retain"}
    assert msgs(validate_update("storage.k8s.io", "StorageClass", new, sc)) == [
        "parameters: Forbidden: updates to parameters are forbidden.",
        "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden."]


def test_priority_class_rules() -> None:
    pc = {"metadata": meta("high"), "value": 1000}
    assert validate("scheduling.k8s.io", "PriorityClass", pc) == []
    assert msgs(validate("scheduling.k8s.io", "PriorityClass",
                         {"metadata": meta("system-mine"), "value": 1})) == [
        "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved "
        "for system use only. error: name system-mine is not a known system priority class"]
    assert msgs(validate("scheduling.k8s.io", "PriorityClass",
                         {"metadata": meta("huge"), "value": 2_000_000_000})) == [
        "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
    assert msgs(validate_update("scheduling.k8s.io", "PriorityClass", {**pc, "value": 1},
                                pc)) == ["value: Forbidden: may not be changed in an update."]


def test_csr_rules() -> None:
    request = base64.b64encode(b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"
                               b"-----END CERTIFICATE REQUEST-----\n").decode()
    csr = {"metadata": meta("c"), "spec": {"request": request, "signerName": "example.com/s",
                                           "usages": ["client auth"]}}
    assert validate("certificates.k8s.io", "CertificateSigningRequest", csr) == []
    both = {**csr, "status": {"conditions": [{"type": "Approved", "status": "True"},
                                             {"type": "Denied", "status": "True"}]}}
    assert "status.conditions: Invalid value: \"\": Approved and Denied conditions are " \
        "mutually exclusive" in msgs(validate("certificates.k8s.io",
                                              "CertificateSigningRequest", both))
    short = {**csr, "spec": {**csr["spec"], "expirationSeconds": 60, "signerName": "nope"}}
    assert msgs(validate("certificates.k8s.io", "CertificateSigningRequest", short)) == [
        "spec.signerName: Invalid value: \"nope\": must be a fully qualified domain and path "
        "of the form 'example.com/signer-name'",
        "spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 600 "
        "seconds (10 minutes)"]


def test_ingress_and_flow_control_rules() -> None:
    ing = {"metadata": {"name": "i", "namespace": "d"}, "spec": {"rules": [{"http": {"paths": [
        {"path": "x", "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}]}}
    assert msgs(validate("networking.k8s.io", "Ingress", ing)) == [
        "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"]
    plc = {"metadata": meta("p"), "spec": {"type": "Limited"}}
    assert msgs(validate("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration", plc)) == [
        "spec.limited: Required value: must not be empty when type is Limited"]


def test_printer_cells() -> None:
    ctx = Ctx(now=dt.datetime.now(dt.UTC), resource=SCHEME.resources[0])
    assert csr_condition({"status": {"conditions": [{"type": "Approved"}],
                                     "certificate": "QQ=="}}) == "Approved,Issued"
    assert csr_condition({}) == "Pending"
    assert format_hosts([{"host": f"h{i}.io"} for i in range(6)]) == \
        "h0.io,h1.io,h2.io,h3.io + 2 more..."
    assert format_hosts([{}]) == "*"
    assert ingress_class_row({"metadata": meta("n"), "spec": {"controller": "c", "parameters": {
        "apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}}, ctx)[2] == \
        "IngressParameters.k8s.example.com/p"
    assert flow_schema_row({"metadata": meta(), "spec": {}}, ctx)[3:] == ["*", "<unknown>", "?"]
    assert plc_row({"metadata": meta(), "spec": {"type": "Exempt"}}, ctx)[1:6] == [
        "Exempt", "<none>", "<none>", "<none>", "<none>"]
