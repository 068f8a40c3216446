"""The two webhook admission steps the store runs: MutatingWebhooks (in the `admit`
chain, after the built-in mutating steps) and ValidatingWebhooks (in `validating`,
after validation), upstream's MutatingAdmissionWebhook and ValidatingAdmissionWebhook.

Configurations are read from the watch cache on every write (ordered by name, webhooks
in their listed order). A call that fails follows the webhook's failurePolicy; a denial
always stops the write. Mutating webhooks' JSON patches are applied in place, and those
with reinvocationPolicy IfNeeded run once more when a later webhook changed the object.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from kapi import admission, cel
from kapi.admission.webhooks import matching, review
from kapi.admission.webhooks.client import Clients, ServiceResolver, Unreachable
from kapi.admission.webhooks.matching import Attributes
from kapi.auth import current_user
from kapi.meta.resources import Resource, Scheme
from kapi.registry.kinds.base import strategy_of
from kapi.storage.cacher import WatchCache

Obj = dict[str, Any]
GROUP = "admissionregistration.k8s.io"


@dataclass(frozen=True)
class Hook:
    """One webhook of a configuration, as the dispatcher needs it."""

    config: str
    spec: Obj

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))

    @property
    def ignore_failures(self) -> bool:
        return self.spec.get("failurePolicy") == "Ignore"


def attributes(r: Resource, op: str, new: Obj, old: Obj | None) -> Attributes:
    meta = (old if op == "DELETE" and old is not None else new).get("metadata") or {}
    return Attributes(group=r.group, version=r.version, resource=r.resource,
                      subresource=admission.current().subresource, kind=r.kind,
                      operation=op, namespaced=r.namespaced,
                      namespace=(meta.get("namespace") or "") if r.namespaced else "",
                      name=meta.get("name") or "")


class _Webhooks:
    """What both steps share: finding the hooks a write concerns, calling one."""

    kind_resource = ""
    mutating = False

    def __init__(self, cache: WatchCache, scheme: Scheme, clients: Clients) -> None:
        self.cache, self.clients = cache, clients
        self.resolver = ServiceResolver(cache, scheme)
        self.configs = scheme.get(GROUP, "v1", self.kind_resource)
        self.namespaces = scheme.get("", "v1", "namespaces")

    def _hooks(self) -> list[Hook]:
        assert self.configs is not None
        objs = self.cache.list(self.configs.key_prefix, self.configs.key_prefix)
        objs.sort(key=lambda o: o["metadata"]["name"])
        return [Hook(o["metadata"]["name"], h) for o in objs for h in o.get("webhooks") or []]

    def _namespace_labels(self, a: Attributes, new: Obj | None, old: Obj | None) -> Any:
        if a.resource == "namespaces" and not a.group:
            return None  # a Namespace is matched on its own labels (see _selected)
        assert self.namespaces is not None
        ns = self.cache.get(self.namespaces.key_prefix, self.namespaces.key(None, a.namespace))
        return ((ns or {}).get("metadata") or {}).get("labels") or {}

    def _selected(self, hook: Hook, a: Attributes, new: Obj | None, old: Obj | None) -> bool:
        spec = hook.spec
        if not matching.any_rule_matches(spec.get("rules"), a):
            return False
        if matching.namespace_labels_needed(a) and spec.get("namespaceSelector"):
            if a.resource == "namespaces" and not a.group:
                if not matching.object_selector_matches(spec["namespaceSelector"], new, old):
                    return False
            elif not matching.selector_matches(spec["namespaceSelector"],
                                               self._namespace_labels(a, new, old)):
                return False
        return matching.object_selector_matches(spec.get("objectSelector"), new, old)

    def _conditions_hold(self, hook: Hook, body: Obj) -> bool:
        """matchConditions: all true calls the hook; any false skips it; an error is a
        failed call (failurePolicy decides)."""
        req = body["request"]
        variables = {"object": req["object"], "oldObject": req["oldObject"], "request": req}
        for cond in hook.spec.get("matchConditions") or []:
            try:
                value = cel.compile(cond.get("expression", "")).evaluate(variables)
            except cel.CELError as e:
                raise review.CallFailed(hook.name, f"failed to evaluate match condition "
                                        f"{cond.get('name', '')!r}: {e}") from None
            if value is not True:
                return False
        return True

    async def _post(self, hook: Hook, body: Obj) -> Obj:
        """Send the review; the verified response (raises CallFailed)."""
        cc = hook.spec.get("clientConfig") or {}
        timeout = int(hook.spec.get("timeoutSeconds") or 10)
        ext: dict[str, Any] = {}
        try:
            if cc.get("service"):
                svc = cc["service"]
                target = self.resolver.resolve(svc.get("namespace", ""), svc.get("name", ""),
                                               int(svc.get("port") or 443))
                url = target.base + (svc.get("path") or "/")
                ext["sni_hostname"] = target.server_name
            else:
                url = cc.get("url", "")
        except Unreachable as e:
            raise review.CallFailed(hook.name, f"failed to call webhook: {e}") from None
        url += ("&" if "?" in url else "?") + f"timeout={timeout}s"
        client = self.clients.get(cc.get("caBundle"))
        try:
            resp = await client.post(url, content=orjson.dumps(body), extensions=ext,
                                     headers={"content-type": "application/json",
                                              "accept": "application/json"},
                                     timeout=timeout)
        except httpx.TimeoutException:
            raise review.CallFailed(hook.name, f'failed to call webhook: Post "{url}": '
                                    "context deadline exceeded") from None
        except httpx.HTTPError as e:
            raise review.CallFailed(hook.name, f'failed to call webhook: Post "{url}": '
                                    f"{e}") from None
        if not 200 <= resp.status_code < 300:
            raise review.CallFailed(hook.name, "failed to call webhook: the server responded "
                                    f"with the status code {resp.status_code} but did not "
                                    "return more information")
        try:
            answer = orjson.loads(resp.content)
        except orjson.JSONDecodeError as e:
            raise review.CallFailed(hook.name, f"received invalid webhook response: {e}") \
                from None
        return review.verify(body, answer, hook.name, mutating=self.mutating)

    async def _call(self, hook: Hook, a: Attributes, new: Obj | None, old: Obj | None
                    ) -> Obj | None:
        """Ask one hook about the write: its response, or None when it is skipped or its
        failure is ignored. Raises the denial, or the failure under failurePolicy Fail."""
        dry_run = admission.current().dry_run
        if dry_run and hook.spec.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise review.dry_run_unsupported(hook.name)
        body = review.request(a, new, old, user=current_user(), dry_run=dry_run)
        try:
            if not self._conditions_hold(hook, body):
                return None
            resp = await self._post(hook, body)
        except review.CallFailed as e:
            if hook.ignore_failures:
                return None
            raise review.call_failed(e) from None
        for w in resp.get("warnings") or []:
            admission.warn(str(w))
        if not resp.get("allowed"):
            raise review.denial(hook.name, resp.get("status"))
        return resp

def typed(r: Resource, obj: Obj) -> Obj:
    """The object with its apiVersion and kind (stored objects may lack them)."""
    if obj.get("apiVersion") == r.api_version and obj.get("kind") == r.kind:
        return obj
    return {"apiVersion": r.api_version, "kind": r.kind} | obj


def review_objects(cache: WatchCache, r: Resource, op: str, new: Obj, old: Obj | None
                   ) -> tuple[Obj | None, Obj | None]:
    """(object, oldObject) as a review carries them: a DELETE (whose step gets only the
    name) sends the stored object as oldObject and no object."""
    if op != "DELETE":
        return typed(r, new), typed(r, old) if old is not None else None
    meta = new.get("metadata") or {}
    stored = cache.get(r.key_prefix, r.key(meta.get("namespace"), meta.get("name", "")))
    return None, typed(r, stored) if stored is not None else None


class ValidatingWebhooks(_Webhooks):
    kind_resource = "validatingwebhookconfigurations"

    async def __call__(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        configured = self._hooks()
        a = attributes(r, op, new, old)
        if not configured or matching.exempt(a):
            return  # the common case: no webhook configured at all
        obj, old_obj = review_objects(self.cache, r, op, new, old)
        hooks = [h for h in configured if self._selected(h, a, obj, old_obj)]
        if not hooks:
            return
        results = await asyncio.gather(*(self._call(h, a, obj, old_obj) for h in hooks),
                                       return_exceptions=True)
        for res in results:  # the first refusal in hook order is the answer
            if isinstance(res, BaseException):
                raise res


class MutatingWebhooks(_Webhooks):
    kind_resource = "mutatingwebhookconfigurations"
    mutating = True

    async def __call__(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        a = attributes(r, op, new, old)
        if matching.exempt(a) or op == "DELETE":
            # a DELETE carries no object to mutate; its hooks still see it, unpatched
            if op == "DELETE" and not matching.exempt(a):
                obj, old_obj = review_objects(self.cache, r, op, new, old)
                for h in self._hooks():
                    if self._selected(h, a, obj, old_obj):
                        await self._call(h, a, obj, old_obj)
            return
        hooks = [h for h in self._hooks() if self._selected(h, a, new, old)]
        reinvoke: set[int] = set()
        invoked: set[int] = set()
        for again in (False, True):
            for i, hook in enumerate(hooks):
                if again and i not in reinvoke:
                    continue
                resp = await self._call(hook, a, typed(r, new), old)
                if resp is not None and resp.get("patch"):
                    patched = review.apply_patch(typed(r, new), resp, hook.name)
                    if patched != typed(r, new):
                        # what a webhook added is defaulted, as upstream decodes (and
                        # so defaults) each webhook's answer
                        strategy_of(r).default(r, patched)
                        new.clear()
                        new.update(patched)
                        # every IfNeeded hook called before this change sees it again
                        reinvoke |= invoked
                        invoked = set()
                if hook.spec.get("reinvocationPolicy") == "IfNeeded":
                    invoked.add(i)
            if not reinvoke:
                return

