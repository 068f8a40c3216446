"""SelfSubjectReview (authentication.k8s.io v1 and v1beta1, create only): the caller's
own user info as the server authenticated it, which `kubectl auth whoami` prints
(kubectl 1.27 asks v1beta1; 1.28 and later ask v1 first).

Nothing is stored: the answer is built from the request's user. Owns that answer only.
"""

from __future__ import annotations

from typing import Any

import orjson

from kapi import errors
from kapi.auth import User, user_info

GROUP = "authentication.k8s.io"
VERSIONS = ("v1", "v1beta1")
RESOURCE = "selfsubjectreviews"


def serves(group: str, version: str, resource: str) -> bool:
    return group == GROUP and version in VERSIONS and resource == RESOURCE


def review(version: str, verb: str, name: str, body: bytes, user: User) -> dict[str, Any]:
    """The created SelfSubjectReview (201), or the Status a bad request earns. A JSON
    body is checked to be a SelfSubjectReview; a protobuf one (kubectl 1.33 sends one)
    carries nothing the answer needs (the review has no spec) and is not decoded."""
    if verb != "create" or name:
        raise errors.MethodNotAllowed(
            "the server does not allow this method on the requested resource")
    api_version = f"{GROUP}/{version}"
    if body[:4] == b"k8s\x00":  # the protobuf envelope's magic
        body = b""
    try:
        sent = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError as e:
        raise errors.BadRequest(f"the body of the request was in an unknown format: {e}") \
            from None
    if not isinstance(sent, dict) or sent.get("kind", "SelfSubjectReview") != \
            "SelfSubjectReview":
        raise errors.BadRequest(f"expected a SelfSubjectReview of {api_version}")
    info = user_info(user)
    return {"kind": "SelfSubjectReview", "apiVersion": api_version,
            "metadata": {"creationTimestamp": None}, "status": {"userInfo": info}}
