"""The API error vocabulary: every failure a client can see, as a metav1.Status.

This is the one module that chooses HTTP status codes. Lower layers raise these (or
storage errors, translated here once by `from_storage_error`); the HTTP edge renders
them with `APIError.status()`. Nothing here knows about HTTP frameworks.
"""

from __future__ import annotations

from typing import Any, Self

from kapi.meta.resources import Resource
from kapi.storage import interface as st


class APIError(Exception):
    code = 500
    reason = "InternalError"

    def __init_subclass__(cls, code: int | None = None, reason: str | None = None,
                          **kwargs: Any) -> None:
        """`class NotFound(APIError, code=404)`: the HTTP code, and upstream's StatusReason,
        which is the class name unless given."""
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code
            cls.reason = cls.__name__ if reason is None else reason

    def __init__(self, message: str, *, details: dict[str, Any] | None = None,
                 code: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code
        if reason is not None:
            self.reason = reason

    def status(self) -> dict[str, Any]:
        s: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        # metav1.Status's field order, as Go writes it: ... reason, details, code
        if self.reason:  # upstream's plain errors (a failed apply) carry no reason
            s["reason"] = self.reason
        if self.details is not None:  # an empty StatusDetails is still written: {}
            s["details"] = self.details
        s["code"] = self.code
        return s


def _qualified(r: Resource) -> str:
    return f"{r.resource}.{r.group}" if r.group else r.resource


def _details(r: Resource | None, name: str | None, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if r is not None:
        if r.group:
            d["group"] = r.group
        d["kind"] = r.resource
    d.update(extra)
    return d


class BadRequest(APIError, code=400):
    """A request the server cannot read: a malformed body, query parameter, resource
    version, selector or patch."""


class Unauthorized(APIError, code=401):
    """No credentials, or credentials the server does not accept."""


class Forbidden(APIError, code=403):
    """Understood but refused, e.g. creating in a namespace that is being deleted."""


class _ObjectError(APIError):
    """An error about one named object, worded by `of` as upstream words it:
    `<resource>[.<group>] "<name>" <what>`, with the object in the details."""

    what = ""

    @classmethod
    def of(cls, r: Resource, name: str) -> Self:
        return cls(f'{_qualified(r)} "{name}" {cls.what}', details=_details(r, name))


class NotFound(_ObjectError, code=404):
    """No such object, resource or path."""

    what = "not found"


class MethodNotAllowed(APIError, code=405):
    """A verb or subresource the resource does not serve."""


class NotAcceptable(APIError, code=406):
    """None of the media types the client accepts can be served."""


class AlreadyExists(_ObjectError, code=409):
    """A create of a name that is taken."""

    what = "already exists"


class Conflict(APIError, code=409):
    """A write that conflicts with the object's state: a stale resourceVersion, a
    server-side apply over another manager's fields, a binding of an assigned pod."""

    @classmethod
    def modified(cls, r: Resource, name: str) -> Conflict:
        return cls(
            f'Operation cannot be fulfilled on {_qualified(r)} "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again",
            details=_details(r, name),
        )


class Gone(APIError, code=410, reason="Expired"):
    """A resource version or continue token storage no longer holds (compacted)."""


class RequestEntityTooLarge(APIError, code=413):
    """A request body over the server's limit."""


class UnsupportedMediaType(APIError, code=415):
    """A request body in a media type the operation does not take."""


class Invalid(APIError, code=422):
    """An object that fails validation: one cause per bad field, as upstream's
    field.ErrorList."""

    @classmethod
    def of(cls, r: Resource, kind: str, name: str, causes: list[dict[str, str]]) -> Invalid:
        text = ", ".join(f"{c['field']}: {c['message']}" if c.get("field") else c["message"]
                         for c in causes)
        group_kind = f"{kind}.{r.group}" if r.group else kind
        msg = f'{group_kind} "{name}" is invalid: '
        msg += text if len(causes) == 1 else f"[{text}]"
        return cls(msg, details=_details(r, name, causes=causes) | {"kind": kind})


class TooManyRequests(APIError, code=429):
    """Refused for now; e.g. an eviction a PodDisruptionBudget does not allow yet."""


class ServiceUnavailable(APIError, code=503):
    """No backend can take the request now (a Service with no ready endpoint)."""


class InternalError(APIError, code=500):
    """The server failed; the request may have been fine."""


class ApplyFailed(APIError, code=500, reason=""):
    """A server-side apply the field manager could not type (upstream answers a bare
    500: `failed to create typed patch object (...): .spec.x: field not declared in
    schema`)."""


class Timeout(APIError, code=504):
    """Not answered in time, e.g. a resource version storage has not reached yet."""


def cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    return {"reason": reason, "message": message, "field": field}


# Upstream's texts for a revision storage no longer holds: a watch from it
# (storage/cacher), an exact list at it and a list continuing from it (storage/etcd3).
_TOO_OLD = "too old resource version: {requested} ({compacted})"
_LIST_EXPIRED = "The resourceVersion for the provided list is too old."
_CONTINUE_EXPIRED = ("The provided continue parameter is too old to display a consistent "
                     "list result. You can start a new list without the continue parameter.")


def from_storage_error(e: st.StorageError, r: Resource | None, name: str = "", *,
                       listing: bool = False, continuing: bool = False) -> APIError:
    """Translate a storage error for resource r (the one place this happens).
    `listing`: the request was a list at an exact revision; `continuing`: a list
    continuing from a continue token."""
    if isinstance(e, st.KeyExists) and r is not None:
        return AlreadyExists.of(r, name)
    if isinstance(e, st.KeyNotFound) and r is not None:
        return NotFound.of(r, name)
    if isinstance(e, st.Conflict) and r is not None:
        return Conflict.modified(r, name)
    if isinstance(e, st.Compacted):
        if continuing:
            return Gone(_CONTINUE_EXPIRED)
        if listing:
            return Gone(_LIST_EXPIRED)
        return Gone(_TOO_OLD.format(requested=e.requested, compacted=e.compacted))
    if isinstance(e, st.FutureRevision):
        return Timeout(f"Too large resource version: {e.requested}, current: {e.current}",
                       details={"causes": [{"reason": "ResourceVersionTooLarge",
                                            "message": "Too large resource version"}],
                                "retryAfterSeconds": 1})
    return InternalError(str(e))
