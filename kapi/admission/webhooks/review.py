"""The AdmissionReview v1 exchange with one webhook, as pure functions: the request
body (upstream's webhook/request.CreateAdmissionObjects), the checks on the answer
(VerifyAdmissionResponse), the JSON patch a mutating webhook returns, and the Status
errors a denial or a failed call becomes (webhook/errors.ToStatusErr and
ErrCallingWebhook), with upstream's messages.

Never does I/O; kapi/admission/webhooks/client.py sends what this builds.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import jsonpatch
import orjson

from kapi import errors
from kapi.admission.webhooks.matching import Attributes
from kapi.auth import User, user_info
from kapi.meta import objects

Obj = dict[str, Any]
API_VERSION = "admission.k8s.io/v1"
_OPTIONS = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


class CallFailed(Exception):
    """A webhook could not be called or answered nonsense (upstream's
    ErrCallingWebhook): failurePolicy decides whether the write goes on."""

    def __init__(self, webhook: str, reason: str) -> None:
        super().__init__(f'failed calling webhook "{webhook}": {reason}')


def request(a: Attributes, new: Obj | None, old: Obj | None, *, user: User,
            dry_run: bool) -> Obj:
    """An AdmissionReview v1 asking about this write (a fresh uid each time)."""
    gvk = {"group": a.group, "version": a.version, "kind": a.kind}
    gvr = {"group": a.group, "version": a.version, "resource": a.resource}
    req: Obj = {"uid": objects.new_uid(), "kind": gvk, "resource": gvr}
    if a.subresource:
        req["subResource"] = a.subresource
    req |= {"requestKind": gvk, "requestResource": gvr}
    if a.subresource:
        req["requestSubResource"] = a.subresource
    if a.name:
        req["name"] = a.name
    if a.namespace:
        req["namespace"] = a.namespace
    req |= {"operation": a.operation, "userInfo": user_info(user), "object": new,
            "oldObject": old, "dryRun": dry_run}
    if a.operation in _OPTIONS:
        req["options"] = {"kind": _OPTIONS[a.operation], "apiVersion": "meta.k8s.io/v1"}
    return {"kind": "AdmissionReview", "apiVersion": API_VERSION, "request": req}


def verify(review: Obj, body: Any, webhook: str, *, mutating: bool) -> Obj:
    """The `response` of a webhook's answer, once it is a valid AdmissionReview v1 for
    this request; raises CallFailed otherwise."""
    if not isinstance(body, dict):
        raise CallFailed(webhook, "received invalid webhook response: expected an object")
    if body.get("apiVersion") != API_VERSION or body.get("kind") != "AdmissionReview":
        raise CallFailed(webhook, "expected webhook response of admission.k8s.io/v1, "
                         f"Kind=AdmissionReview, got {body.get('apiVersion', '')}, "
                         f"Kind={body.get('kind', '')}")
    resp = body.get("response")
    if not isinstance(resp, dict):
        raise CallFailed(webhook, "webhook response was absent")
    uid = review["request"]["uid"]
    if resp.get("uid") != uid:
        raise CallFailed(webhook, f'expected response.uid="{uid}", '
                         f'got "{resp.get("uid", "")}"')
    if resp.get("patch"):
        if not mutating:
            raise CallFailed(webhook, "validating webhook may not return response.patch")
        if resp.get("patchType") is None:
            raise CallFailed(webhook, "webhook returned response.patch but not "
                             "response.patchType")
        if resp["patchType"] != "JSONPatch":
            raise CallFailed(webhook, "webhook returned invalid response.patchType of "
                             f'"{resp["patchType"]}"')
    elif resp.get("patchType") is not None and mutating:
        raise CallFailed(webhook, "webhook returned response.patchType but not "
                         "response.patch")
    return resp


def apply_patch(obj: Obj, resp: Obj, webhook: str) -> Obj:
    """The object with the webhook's base64 JSON patch applied (a new dict)."""
    try:
        ops = orjson.loads(base64.b64decode(resp["patch"], validate=True))
        patched = jsonpatch.JsonPatch(ops).apply(obj)
    except (binascii.Error, orjson.JSONDecodeError, jsonpatch.JsonPatchException,
            jsonpatch.JsonPointerException, TypeError, ValueError) as e:
        raise errors.InternalError(f"Internal error occurred: {e}",
                                   details={"causes": [{"message": str(e)}]}) from None
    if not isinstance(patched, dict):
        raise errors.InternalError("Internal error occurred: the patched object is not "
                                   "an object")
    return patched


def denial(webhook: str, result: Any) -> errors.APIError:
    """The Status a `allowed: false` answer becomes (upstream's ToStatusErr): the
    webhook's own status, code at least 400, message prefixed with who denied it."""
    result = dict(result) if isinstance(result, dict) else {}
    by = f'admission webhook "{webhook}" denied the request'
    if result.get("message"):
        message = f"{by}: {result['message']}"
    elif result.get("reason"):
        message = f"{by}: {result['reason']}"
    else:
        message = f"{by} without explanation"
    code = result.get("code") if isinstance(result.get("code"), int) else 0
    code = code if code >= 400 else 400
    return errors.APIError(message, details=result.get("details"), code=code,
                           reason=result.get("reason") or "")


def call_failed(e: CallFailed) -> errors.APIError:
    """A failing call under failurePolicy Fail: 500, the message as upstream's
    apierrors.NewInternalError words it."""
    return errors.InternalError(f"Internal error occurred: {e}",
                                details={"causes": [{"message": str(e)}]})


def dry_run_unsupported(webhook: str) -> errors.APIError:
    return errors.BadRequest(f'admission webhook "{webhook}" does not support dry run')
