"""Webhook conversion of custom resources (a definition's `spec.conversion.strategy:
Webhook`), as upstream's apiextensions-apiserver does it.

Objects are stored at the storage version; whenever one is read, listed, watched or
written at another version, the objects not yet at the wanted version go to the
definition's webhook in one ConversionReview (the first of its conversionReviewVersions
kapi speaks, v1 or v1beta1), reached by URL or through a Service, trusting the caBundle.
The answer is checked as upstream checks it (uid, result, count, apiVersion and kind;
name, namespace and uid kept), and only labels and annotations of the returned
metadata are kept: the rest comes from the object sent. Any failure is an
InternalError whose message names the kind, in upstream's words.

It owns the HTTP exchange and the checks; what to convert, and when, is the store's.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

import httpx
import orjson

from kapi import errors
from kapi.admission.webhooks.client import Clients, ServiceResolver, Unreachable
from kapi.meta import objects
from kapi.validation import meta as meta_rules

Obj = dict[str, Any]
# (objects, desired apiVersion) -> the same objects at that version, in order
Convert = Callable[[list[Obj], str], Awaitable[list[Obj]]]
GROUP = "apiextensions.k8s.io"
REVIEW_VERSIONS = ("v1", "v1beta1")
TIMEOUT = 30.0  # seconds; upstream sets no shorter bound on a conversion call


class _Failed(Exception):
    """A conversion answer upstream refuses; str() is the reason after the kind."""


class WebhookConverter:
    """Builds one conversion function per definition using the Webhook strategy."""

    def __init__(self, clients: Clients, resolver: ServiceResolver) -> None:
        self.clients, self.resolver = clients, resolver

    def for_definition(self, crd: Obj) -> Convert | None:
        spec = crd.get("spec") or {}
        conv = spec.get("conversion") or {}
        if conv.get("strategy") != "Webhook":
            return None
        hook = conv.get("webhook") or {}
        config = hook.get("clientConfig") or {}
        versions = [v for v in hook.get("conversionReviewVersions") or []
                    if v in REVIEW_VERSIONS]
        kind = (spec.get("names") or {}).get("kind", "")

        async def convert(objs: list[Obj], api_version: str) -> list[Obj]:
            todo = [i for i, o in enumerate(objs) if o.get("apiVersion") != api_version]
            if not todo:
                return objs
            gvk = _gvk(objs[todo[0]].get("apiVersion", ""), kind)
            if not versions:
                raise errors.InternalError("no supported conversion review versions")
            try:
                got = await self._call(config, versions[0], [objs[i] for i in todo],
                                       api_version)
                return _merge(objs, todo, got, api_version)
            except _Failed as e:
                raise errors.InternalError(f"conversion webhook for {gvk} {e}") from None
        return convert

    async def _call(self, config: Obj, review_version: str, objs: list[Obj],
                    api_version: str) -> list[Any]:
        uid = objects.new_uid()
        body = {"apiVersion": f"{GROUP}/{review_version}", "kind": "ConversionReview",
                "request": {"uid": uid, "desiredAPIVersion": api_version, "objects": objs}}
        try:
            url, ext = self._target(config)
            resp = await self.clients.get(config.get("caBundle")).post(
                url, content=orjson.dumps(body), extensions=ext, timeout=TIMEOUT,
                headers={"content-type": "application/json", "accept": "application/json"})
        except httpx.TimeoutException:
            raise _Failed(f'failed: Post "{_where(config)}": context deadline exceeded') \
                from None
        except (Unreachable, httpx.HTTPError) as e:
            raise _Failed(f'failed: Post "{_where(config)}": {e}') from None
        if resp.status_code // 100 != 2:
            raise _Failed(f"failed: the server responded with the status code "
                          f"{resp.status_code} but did not return more information")
        try:
            review = orjson.loads(resp.content)
        except orjson.JSONDecodeError as e:
            raise _Failed(f"failed: {e}") from None
        return _converted(review, uid, review_version)

    def _target(self, config: Obj) -> tuple[str, Obj]:
        """The URL to post to, and the name the server's certificate must carry when it
        is not the URL's host (a service)."""
        svc = config.get("service")
        if not svc:
            return str(config.get("url") or ""), {}
        t = self.resolver.resolve(svc.get("namespace", ""), svc.get("name", ""),
                                  int(svc.get("port") or 443))
        return t.base + (svc.get("path") or "/"), {"sni_hostname": t.server_name}


def _gvk(api_version: str, kind: str) -> str:
    """A GroupVersionKind as Go prints it: `stable.example.com/v1, Kind=CronTab`."""
    return f"{api_version}, Kind={kind}"


def _where(config: Obj) -> str:
    if config.get("url"):
        return str(config["url"])
    svc = config.get("service") or {}
    return (f"https://{svc.get('name')}.{svc.get('namespace')}.svc:{svc.get('port') or 443}"
            f"{svc.get('path') or ''}")


def _converted(review: Any, uid: str, review_version: str) -> list[Any]:
    """The convertedObjects of an answer upstream accepts."""
    if not isinstance(review, dict):
        raise _Failed("failed: unrecognized response")
    if review_version == "v1":
        got = f"{review.get('apiVersion', '')}, Kind={review.get('kind', '')}"
        if got != f"{GROUP}/v1, Kind=ConversionReview":
            raise _Failed(f"failed: expected webhook response of {GROUP}/v1, "
                          f"Kind=ConversionReview, got {got}")
    resp = review.get("response")
    if not isinstance(resp, dict):
        raise _Failed("failed: no response provided")
    if review_version == "v1" and resp.get("uid") != uid:
        raise _Failed(f'failed: expected response.uid="{uid}", got "{resp.get("uid", "")}"')
    result = resp.get("result")
    result = result if isinstance(result, dict) else {}
    if result.get("status") != "Success":
        raise _Failed("failed: " + (result.get("message") or
                                    f"response.result.status was '{result.get('status', '')}'"
                                    ", not 'Success'"))
    out = resp.get("convertedObjects")
    return out if isinstance(out, list) else []


def _merge(objs: list[Obj], todo: list[int], got: list[Any], api_version: str) -> list[Obj]:
    """objs with the converted ones in place, each checked and given its original
    metadata (but the returned labels and annotations)."""
    if len(got) != len(todo):
        raise _Failed(f"returned {len(got)} objects, expected {len(todo)}")
    out = list(objs)
    for n, (i, converted) in enumerate(zip(todo, got, strict=True)):
        out[i] = _checked(objs[i], converted, api_version, f"at index {n}")
    return out


def _checked(original: Obj, converted: Any, api_version: str, where: str) -> Obj:
    if not isinstance(converted, dict):
        raise _Failed(f"returned invalid converted object {where}: not an object")
    if converted.get("apiVersion") != api_version:
        raise _Failed(f"returned invalid converted object {where}: invalid groupVersion "
                      f"(expected {api_version}, received {converted.get('apiVersion', '')})")
    if converted.get("kind") != original.get("kind"):
        raise _Failed(f"returned invalid converted object {where}: invalid kind (expected "
                      f"{original.get('kind')}, received {converted.get('kind', '')})")
    was, now = original.get("metadata") or {}, converted.get("metadata")
    for f, label in (("name", "name"), ("namespace", "namespace"), ("uid", "UID")):
        if isinstance(now, dict) and (was.get(f) or "") != (now.get(f) or ""):
            raise _Failed(f"returned invalid converted object {where}: must have the same "
                          f"{label}: {was.get(f) or ''} != {now.get(f) or ''}")
    return dict(converted, metadata=_restored(was, now, where))


def _restored(was: Obj, now: Any, where: str) -> Obj:
    """The original metadata with the converted object's labels and annotations."""
    if not isinstance(now, dict):
        raise _Failed(f"returned invalid metadata in object {where}: missing metadata in "
                      "converted object")
    meta = dict(was)
    for f in ("labels", "annotations"):
        value = now.get(f)
        if value is None:
            meta.pop(f, None)
            continue
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise _Failed(f"returned invalid metadata in object {where}: metadata.{f} must "
                          "map strings to strings")
        check = meta_rules.validate_labels if f == "labels" else meta_rules.validate_annotations
        errs = check(value, f"metadata.{f}") if value != was.get(f) else []
        if errs:
            raise _Failed(f"returned invalid metadata in object {where}: "
                          + "; ".join(str(e) for e in errs))
        meta[f] = value
    return meta
