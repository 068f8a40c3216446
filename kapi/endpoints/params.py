"""Query parameters -> typed options (list, delete, write), with 400s for bad values.

Pure: takes a mapping of query parameters, returns options or raises BadRequest.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from kapi import errors
from kapi.endpoints import listoptions
from kapi.meta.resources import Resource
from kapi.meta.selectors import SelectorError, parse_field_selector, parse_label_selector
from kapi.registry.store import DeleteOptions, ListOptions
from kapi.validation.field import GoValue, go_quote, not_supported

FIELD_VALIDATION = ("", "Strict", "Warn", "Ignore")
PROPAGATION = ("Orphan", "Background", "Foreground")


_INT64 = re.compile(r"[+-]?[0-9]+")
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def parse_int64(text: str) -> int:
    """A query integer as Go's strconv.ParseInt(text, 10, 64) reads it (no spaces, no
    underscores, within int64), with its error text, which upstream returns as a 400."""
    if not _INT64.fullmatch(text):
        raise errors.BadRequest(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise errors.BadRequest(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def parse_bool(text: str) -> bool:
    """A query boolean as upstream's query conversion reads it: "0" and "false" in any
    case are false; anything else, the empty string included, is true."""
    return not (text == "0" or text.lower() == "false")


def _int(q: Mapping[str, str], name: str) -> int | None:
    v = q.get(name)
    return None if v is None else parse_int64(v)


def _bool(q: Mapping[str, str], name: str) -> bool | None:
    """None when the parameter is absent (a `?name` or `?name=` is present: true)."""
    v = q.get(name)
    return None if v is None else parse_bool(v)


def watch_requested(q: Mapping[str, str]) -> bool:
    return bool(_bool(q, "watch"))


# the options kind each verb decodes its query into (named by upstream's 422s)
OPTIONS_KIND = {"create": "CreateOptions", "update": "UpdateOptions", "patch": "PatchOptions",
                "delete": "DeleteOptions", "deletecollection": "DeleteOptions"}


def dry_run(q: Mapping[str, str], values: list[str], verb: str = "create") -> bool:
    """dryRun=All (repeatable); anything else is upstream's 422 on the verb's options."""
    if any(v != "All" for v in values):
        err = not_supported("dryRun", GoValue("[]string{" + ", ".join(
            go_quote(v) for v in values) + "}"), ["All"])
        kind = OPTIONS_KIND.get(verb, "CreateOptions")
        raise errors.Invalid(f'{kind}.meta.k8s.io "" is invalid: {err}',
                             details={"group": "meta.k8s.io", "kind": kind,
                                      "causes": [err.cause()]})
    return bool(values)


def field_validation(q: Mapping[str, str]) -> str:
    """Strict, Warn or Ignore; Warn when absent (upstream's default since 1.25)."""
    v = q.get("fieldValidation", "")
    if v not in FIELD_VALIDATION:
        raise errors.BadRequest(f'fieldValidation: Invalid value: "{v}": fieldValidation must '
                                'be one of "Ignore", "Warn", or "Strict"')
    return v or "Warn"


def field_manager(q: Mapping[str, str], user_agent: str) -> str:
    """?fieldManager=, else the user agent up to its first "/" (printable, 128 at most),
    as upstream names the manager of an Update."""
    v = q.get("fieldManager", "")
    if v:
        if len(v) > 128:
            raise errors.Invalid('PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                                 'Too long: may not be more than 128 bytes')
        if not v.isprintable():
            raise errors.Invalid(f'PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                                 f'Invalid value: "{v}": must only contain printable characters')
        return v
    prefix = user_agent.split("/", 1)[0]
    if prefix.isprintable():
        return prefix[:128]
    return "".join(c for c in prefix if c.isprintable())[:128]


def apply_field_manager(q: Mapping[str, str]) -> str:
    """An apply patch must name its manager."""
    if not q.get("fieldManager"):
        raise errors.Invalid('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required '
                             'value: is required for apply patch',
                             details={"group": "meta.k8s.io", "kind": "PatchOptions",
                                      "causes": [{"reason": "FieldValueRequired",
                                                  "message": "Required value: is required "
                                                             "for apply patch",
                                                  "field": "fieldManager"}]})
    return field_manager(q, "")


def force(q: Mapping[str, str]) -> bool:
    return bool(_bool(q, "force"))


def list_options(r: Resource, q: Mapping[str, str], *, watch: bool = False) -> ListOptions:
    opts = ListOptions()
    try:
        if q.get("labelSelector"):
            opts.label_selector = parse_label_selector(q["labelSelector"])
        if q.get("fieldSelector"):
            opts.field_selector = parse_field_selector(q["fieldSelector"], r.field_selectors)
    except SelectorError as e:
        raise errors.BadRequest(str(e)) from None
    limit = _int(q, "limit")
    if limit is not None and limit < 0:
        raise errors.BadRequest("limit must be non-negative")
    opts.limit = limit or 0
    opts.continue_token = q.get("continue", "")
    opts.resource_version = q.get("resourceVersion", "")
    opts.resource_version_match = q.get("resourceVersionMatch", "")
    listoptions.validate(watch=watch, resource_version=opts.resource_version,
                         match=opts.resource_version_match, continue_token=opts.continue_token,
                         send_initial_events=_bool(q, "sendInitialEvents"))
    if opts.continue_token and opts.resource_version not in ("", "0"):
        raise errors.BadRequest("specifying resource version is not allowed when using continue")
    return opts


def watch_flags(q: Mapping[str, str]) -> tuple[bool, bool | None, int | None]:
    """(allowWatchBookmarks, sendInitialEvents, timeoutSeconds)"""
    return (bool(_bool(q, "allowWatchBookmarks")), _bool(q, "sendInitialEvents"),
            _int(q, "timeoutSeconds"))


def delete_options(q: Mapping[str, str], body: dict[str, Any] | None, is_dry_run: bool) -> DeleteOptions:
    body = body or {}
    if not isinstance(body, dict):
        raise errors.BadRequest("DeleteOptions must be an object")
    opts = DeleteOptions(dry_run=is_dry_run or bool(body.get("dryRun")))
    grace = _int(q, "gracePeriodSeconds")
    if grace is None and body.get("gracePeriodSeconds") is not None:
        grace = int(body["gracePeriodSeconds"])
    opts.grace_period_seconds = grace
    policy = q.get("propagationPolicy") or body.get("propagationPolicy")
    orphan = _bool(q, "orphanDependents")
    if orphan is None and body.get("orphanDependents") is not None:
        orphan = bool(body["orphanDependents"])
    if policy and orphan is not None:
        raise errors.Invalid("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: "
                             "Invalid value: \"" + policy + "\": orphanDependents and "
                             "deletionPropagation cannot be both set")
    if policy and policy not in PROPAGATION:
        raise errors.Invalid(f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: '
                             f'Unsupported value: "{policy}": supported values: "Foreground", '
                             f'"Background", "Orphan", "nil"')
    if orphan is not None:
        policy = "Orphan" if orphan else "Background"
    opts.propagation_policy = policy
    pre = body.get("preconditions") or {}
    opts.preconditions = {k: v for k, v in pre.items() if k in ("uid", "resourceVersion") and v}
    return opts
