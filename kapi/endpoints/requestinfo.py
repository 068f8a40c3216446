"""URL + method -> RequestInfo, like upstream's RequestInfoFactory.

Pure parsing; it answers "which verb on which resource", which authorization and the
handlers both need. It never touches storage.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kapi.auth.rbac.authorizer import Attrs

_NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass
class RequestInfo(Attrs):
    """What authorization decides on (kapi.auth's Attrs: verb is one of get list watch
    create update patch delete deletecollection), and where the path led."""

    api_prefix: str = ""  # "api" or "apis"
    parts: tuple[str, ...] = ()


_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete",
                 "GET": "get", "HEAD": "get"}


def parse(method: str, path: str, watch_param: bool) -> RequestInfo:
    parts = [p for p in path.split("/") if p]
    info = RequestInfo(is_resource=False, path=path, verb=method.lower())
    if not parts or parts[0] not in ("api", "apis"):
        return info
    info.api_prefix = parts[0]
    rest = parts[1:]
    if info.api_prefix == "apis":
        if len(rest) < 2:
            return info
        info.group, rest = rest[0], rest[1:]
    if not rest:
        return info
    info.version, rest = rest[0], rest[1:]
    if not rest:
        return info
    info.is_resource = True
    verb = _METHOD_VERBS.get(method, method.lower())
    if rest[0] == "watch":  # legacy /watch/ paths
        verb, rest = "watch", rest[1:]
        watch_param = False
    if len(rest) >= 2 and rest[0] == "namespaces" and not (
            len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES):
        info.namespace = rest[1]
        if len(rest) == 2:  # /namespaces/{name}: the namespace object itself
            info.resource, info.name = "namespaces", rest[1]
            info.namespace = ""
            rest = []
        else:
            rest = rest[2:]
    if rest:
        info.resource = rest[0]
        if len(rest) > 1:
            info.name = rest[1]
        if len(rest) > 2:
            info.subresource = rest[2]
    info.parts = tuple(rest)
    if verb == "get" and not info.name:
        verb = "list"
    if verb == "delete" and not info.name:
        verb = "deletecollection"
    if watch_param and verb in ("get", "list"):
        verb = "watch"
    info.verb = verb
    return info


def named_by_selector(info: RequestInfo, field_selector: str) -> RequestInfo:
    """What authorization sees of a list or watch whose field selector requires
    `metadata.name=NAME`: a request for that one object, named, as upstream's request
    info makes it (the Node authorizer lets a kubelet watch a single Secret that way).
    The handlers keep `info` itself, whose empty name means a collection."""
    if info.name or info.verb not in ("list", "watch") or not field_selector:
        return info
    for term in field_selector.split(","):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if op and key.strip() == "metadata.name":
            value = value.strip()
            valid = value not in ("", ".", "..") and not any(c in value for c in "/%")
            return replace(info, name=value) if valid else info
    return info
