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
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    subresource: str = ""
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list, compare=False)


NONE = Request()
_current: ContextVar[Request | None] = ContextVar("kapi_admission_request", default=None)


def current() -> Request:
    return _current.get() or NONE


def set_current(request: Request) -> None:
    _current.set(request)


def warn(text: str) -> None:
    """A warning for the client about the write in progress (admission webhooks' and
    policies' warnings); the app sends them in the Warning header."""
    request = _current.get()
    if request is not None:
        request.warnings.append(text)
