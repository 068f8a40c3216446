"""ListOptions checks as upstream's ValidateListOptions makes them, for a list and for a
watch: resourceVersionMatch only with a resourceVersion (or, on a watch, with
sendInitialEvents), only its supported values, never with continue; sendInitialEvents
only on a watch, and then with resourceVersionMatch=NotOlderThan.

Every problem is reported at once, as the 422 `ListOptions.meta.k8s.io "" is invalid`
upstream answers. Pure: takes the parsed values, raises errors.Invalid or returns.
"""

from __future__ import annotations

from kapi import errors
from kapi.validation.field import FieldError, forbidden, not_supported

NOT_OLDER_THAN = "NotOlderThan"


def validate(*, watch: bool, resource_version: str, match: str, continue_token: str,
             send_initial_events: bool | None) -> None:
    errs = (_watch_errors(match, continue_token, send_initial_events) if watch else
            _list_errors(resource_version, match, continue_token, send_initial_events))
    if errs:
        text = ", ".join(str(e) for e in errs)
        raise errors.Invalid(
            f'ListOptions.meta.k8s.io "" is invalid: {text if len(errs) == 1 else f"[{text}]"}',
            details={"group": "meta.k8s.io", "kind": "ListOptions",
                     "causes": [e.cause() for e in errs]})


def _list_errors(rv: str, match: str, cont: str, send: bool | None) -> list[FieldError]:
    errs: list[FieldError] = []
    if match:
        if not rv:
            errs.append(forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden "
                                                          "unless resourceVersion is provided"))
        if cont:
            errs.append(forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden "
                                                          "when continue is provided"))
        if match not in ("Exact", NOT_OLDER_THAN):
            errs.append(not_supported("resourceVersionMatch", match,
                                      ["Exact", NOT_OLDER_THAN, ""]))
        if match == "Exact" and rv == "0":
            errs.append(forbidden("resourceVersionMatch", 'resourceVersionMatch "exact" is '
                                                          'forbidden for resourceVersion "0"'))
    if send is not None:
        errs.append(forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    return errs


def _watch_errors(match: str, cont: str, send: bool | None) -> list[FieldError]:
    errs: list[FieldError] = []
    if send is not None and match != NOT_OLDER_THAN:
        errs.append(forbidden("resourceVersionMatch", "sendInitialEvents requires setting "
                                                      f"resourceVersionMatch to {NOT_OLDER_THAN}"))
    if match:
        if send is None:
            errs.append(forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden "
                                                          "for watch unless sendInitialEvents "
                                                          "is provided"))
        if match != NOT_OLDER_THAN:
            errs.append(not_supported("resourceVersionMatch", match, [NOT_OLDER_THAN]))
        if cont:
            errs.append(forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden "
                                                          "when continue is provided"))
    return errs
