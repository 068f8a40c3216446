"""The audit log: upstream's audit.k8s.io/v1 Policy chooses a level per request, and each
request audited writes Event JSON lines (stages RequestReceived, then ResponseComplete;
a watch or other stream writes ResponseStarted when it starts and ResponseComplete when
it ends; so does a WebSocket exec, attach or portforward, with code 101).

Levels: None (nothing), Metadata (who, what, when, the outcome), Request (and the request
body), RequestResponse (and the response body). A Policy's rules are tried in order; the
first that matches decides; no match is None. The HTTP edge (kapi.app) hands `Auditor`
the request, the user and the request info after the response is built; this module
never decides a response or changes one.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Callable, TextIO

import orjson
import yaml

Obj = dict[str, Any]
LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")


def load_policy(path: Path) -> Obj:
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or doc.get("kind") != "Policy":
        raise ValueError(f"{path}: not an audit.k8s.io Policy")
    for rule in doc.get("rules") or []:
        if rule.get("level") not in LEVELS:
            raise ValueError(f"{path}: rule level {rule.get('level')!r} is not one of "
                             f"{', '.join(LEVELS)}")
        bad = set(rule.get("omitStages") or []) - set(STAGES)
        if bad:
            raise ValueError(f"{path}: unknown stages {sorted(bad)}")
    return doc


def _listed(values: Any, value: str) -> bool:
    return not values or value in values


def _resource_matches(rule: Obj, info: Any) -> bool:
    kinds = rule.get("resources")
    if not kinds:
        return True
    full = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
    for gr in kinds:
        if gr.get("group", "") not in (info.group, "*"):
            continue
        names = gr.get("resources") or []
        if names and not any(n in ("*", full) or (n == f"*/{info.subresource}") or
                             (n == f"{info.resource}/*" and info.subresource)
                             for n in names):
            continue
        if _listed(gr.get("resourceNames"), info.name):
            return True
    return False


def rule_matches(rule: Obj, user: Any, info: Any) -> bool:
    if not _listed(rule.get("users"), user.name):
        return False
    groups = rule.get("userGroups")
    if groups and not set(groups) & set(user.groups):
        return False
    if not _listed(rule.get("verbs"), info.verb):
        return False
    if not info.is_resource:
        urls = rule.get("nonResourceURLs")
        if rule.get("resources") or rule.get("namespaces"):
            return False
        return not urls or any(u == info.path or (u.endswith("*") and
                                                  info.path.startswith(u[:-1])) for u in urls)
    if rule.get("nonResourceURLs"):
        return False
    return _listed(rule.get("namespaces"), info.namespace) and _resource_matches(rule, info)


def decide(policy: Obj, user: Any, info: Any) -> tuple[str, set[str]]:
    """(level, stages to leave out) for one request."""
    omit = set(policy.get("omitStages") or [])
    for rule in policy.get("rules") or []:
        if rule_matches(rule, user, info):
            return rule["level"], omit | set(rule.get("omitStages") or [])
    return "None", omit


def _stamp(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None  # not JSON (protobuf, YAML): left out, as upstream leaves what it cannot


class Auditor:
    def __init__(self, log_path: Path, policy_path: Path | None, *,
                 clock: Callable[[], dt.datetime]) -> None:
        self.policy = load_policy(policy_path) if policy_path else {
            "rules": [{"level": "Metadata"}]}
        self.clock = clock
        self.out: TextIO = sys.stdout if str(log_path) == "-" else \
            open(log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (kept open)

    def close(self) -> None:
        if self.out is not sys.stdout:
            self.out.close()

    def start(self) -> Obj:
        return {"received": self.clock(), "auditID": str(uuid.uuid4())}

    def record(self, started: Obj, request: Any, user: Any, info: Any, body: bytes,
               response: Any) -> Any:
        """Write the request's Events; returns the response (a stream's body wrapped so
        that its end is recorded)."""
        if user is None or info is None:
            return response
        level, omit = decide(self.policy, user, info)
        if level == "None":
            return response
        event = self._event(started, request, user, info, level)
        request_object = _json(body)
        ref = event.get("objectRef")
        if ref is not None and "name" not in ref and isinstance(request_object, dict):
            # a create names its object in the body; upstream completes objectRef from it
            name = (request_object.get("metadata") or {}).get("name")
            if name:
                ref["name"] = name
        annotations = getattr(request.state, "annotations", None)
        if annotations:  # what admission noted (PodSecurity's audit-violations, ...)
            event["annotations"] = dict(annotations)
        if level in ("Request", "RequestResponse") and info.verb not in ("get", "list",
                                                                           "watch"):
            if request_object is not None:
                event["requestObject"] = request_object
        self._write(event, "RequestReceived", omit, started["received"])
        status: Obj = {"metadata": {}, "code": response.status_code}
        stream = getattr(response, "body_iterator", None)
        upgraded = getattr(response, "when_done", None)  # an exec, attach, port-forward
        if stream is not None or upgraded is not None:
            event["responseStatus"] = status
            self._write(event, "ResponseStarted", omit, self.clock())
            if upgraded is not None:
                upgraded.append(lambda: self._write(event, "ResponseComplete", omit,
                                                    self.clock()))
            elif stream is not None:
                response.body_iterator = self._until_done(stream, event, omit)
            return response
        out = _json(getattr(response, "body", b""))
        if response.status_code >= 400 and isinstance(out, dict):
            status |= {k: out[k] for k in ("status", "message", "reason") if k in out}
        event["responseStatus"] = status
        if level == "RequestResponse" and out is not None:
            event["responseObject"] = out
        self._write(event, "ResponseComplete", omit, self.clock())
        return response

    def stream_started(self, started: Obj, conn: Any, user: Any,
                       info: Any) -> Callable[[], None]:
        """A WebSocket stream (exec, attach, portforward) accepted: RequestReceived and
        ResponseStarted (101 Switching Protocols) now; call what it returns when the
        stream ends, for ResponseComplete."""
        level, omit = decide(self.policy, user, info)
        if level == "None":
            return lambda: None
        event = self._event(started, conn, user, info, level)
        self._write(event, "RequestReceived", omit, started["received"])
        event["responseStatus"] = {"metadata": {}, "code": 101}
        self._write(event, "ResponseStarted", omit, self.clock())
        return lambda: self._write(event, "ResponseComplete", omit, self.clock())

    async def _until_done(self, stream: AsyncIterator[Any], event: Obj,
                          omit: set[str]) -> AsyncIterator[Any]:
        try:
            async for chunk in stream:
                yield chunk
        finally:
            self._write(event, "ResponseComplete", omit, self.clock())

    def _event(self, started: Obj, request: Any, user: Any, info: Any, level: str) -> Obj:
        uri = request.scope["path"]
        if request.scope.get("query_string"):
            uri += "?" + request.scope["query_string"].decode("latin-1")
        event: Obj = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level,
                      "auditID": started["auditID"], "requestURI": uri, "verb": info.verb,
                      "user": {"username": user.name, "groups": list(user.groups)}
                      | ({"uid": user.uid} if user.uid else {}),
                      "sourceIPs": [request.client.host] if request.client else [],
                      "userAgent": request.headers.get("user-agent", "")}
        if info.is_resource:
            ref = {"resource": info.resource, "namespace": info.namespace, "name": info.name,
                   "apiGroup": info.group, "apiVersion": info.version,
                   "subresource": info.subresource}
            event["objectRef"] = {k: v for k, v in ref.items() if v}
        event["requestReceivedTimestamp"] = _stamp(started["received"])
        return event

    def _write(self, event: Obj, stage: str, omit: set[str], when: dt.datetime) -> None:
        if stage in omit:
            return
        line = dict(event, stage=stage, stageTimestamp=_stamp(when))
        if stage in ("RequestReceived",):
            line.pop("responseStatus", None)
            line.pop("responseObject", None)
        self.out.write(orjson.dumps(line).decode() + "\n")
