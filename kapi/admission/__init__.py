"""Admission: mutating then validating steps run on every write before storage.

The generic store (kapi.registry.store) runs, for a create, update or delete:
the mutating steps (`admit`: every kind; then the named steps a kind's strategy asks for),
then validation (the kind's strategy), then the validating steps (`validating`), as
upstream runs mutating admission, validation, validating admission.

A step is `(resource, operation, new, old or None) -> None`; what upstream's
admission.Attributes carries beyond that is read here: `current()` gives the subresource
and dry-run flag of the write in progress, kapi.auth.current_user() the user; `warn`
adds a warning the client gets in the response's Warning header.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Request:
    subresource: str = ""
    dry_run: bool = False


NONE = Request()
_current: ContextVar[Request | None] = ContextVar("kapi_admission_request", default=None)


def current() -> Request:
    return _current.get() or NONE


def set_current(request: Request) -> None:
    _current.set(request)


# warnings a step gives the client (HTTP `Warning: 299 - "..."`), collected per request:
# the HTTP edge calls collect_warnings() before the handler and sends what it holds after
_warnings: ContextVar[list[str] | None] = ContextVar("kapi_admission_warnings", default=None)


def collect_warnings() -> list[str]:
    """A fresh list that warn() fills for the rest of this request."""
    out: list[str] = []
    _warnings.set(out)
    return out


def warn(text: str) -> None:
    collected = _warnings.get()
    if collected is not None:
        collected.append(text)


# audit annotations a step adds to the request's audit Event (e.g. PodSecurity's
# audit-violations), collected per request like the warnings
_annotations: ContextVar[dict[str, str] | None] = ContextVar("kapi_admission_annotations",
                                                            default=None)


def collect_annotations() -> dict[str, str]:
    out: dict[str, str] = {}
    _annotations.set(out)
    return out


def annotate(key: str, value: str) -> None:
    collected = _annotations.get()
    if collected is not None:
        collected[key] = value


def annotate_once(key: str, value: str) -> None:
    """An annotation a later step may not overwrite (upstream refuses the second value
    of a key: the first stays)."""
    collected = _annotations.get()
    if collected is not None:
        collected.setdefault(key, value)
