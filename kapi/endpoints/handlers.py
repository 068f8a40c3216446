"""One coroutine per verb on a resource: decode, check, call the store, encode.

Handlers take a parsed RequestInfo plus the raw request pieces and return
(status code, body dict) or a streaming watch; they never touch storage directly
(the store does) and never pick codes for errors (errors.py does).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping

from kapi import errors
from kapi.endpoints import applypatch, body, codec, eviction, params, scale
from kapi.endpoints.codec import Output
from kapi.endpoints.fieldvalidation import FieldValidation
from kapi.endpoints.requestinfo import RequestInfo
from kapi.endpoints.tables import to_table
from kapi.meta import objects
from kapi.meta.resources import Resource, Scheme
from kapi.patch import PatchError, apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from kapi.patch.managedfields import Tracker
from kapi.registry.store import DeleteOptions, Store
from kapi.validation import Validator

Obj = dict[str, Any]

DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
NOT_ALLOWED = "the server does not allow this method on the requested resource"


@dataclass
class Call:
    """One API request, decoded enough for any verb."""

    info: RequestInfo
    resource: Resource
    query: Mapping[str, str]
    dry_run_values: list[str]
    body: bytes
    content_type: str | None
    output: Output
    warnings: list[str] = field(default_factory=list)
    user_agent: str = ""

    @property
    def dry_run(self) -> bool:
        return params.dry_run(self.query, self.dry_run_values, self.info.verb)

    @property
    def namespace(self) -> str | None:
        return self.info.namespace or None

    @property
    def field_manager(self) -> str:
        """Who writes: ?fieldManager=, else the user agent's product (managedFields)."""
        return params.field_manager(self.query, self.user_agent)


class Handlers:
    def __init__(self, *, store: Store, scheme: Scheme, definitions: Any,
                 clock: objects.Clock = objects.utc_now, validator: Validator | None = None,
                 validation: bool = True, tracker: Tracker | None = None) -> None:
        self.store = store
        self.scheme = scheme
        self.definitions = definitions
        self.clock = clock
        self.validator = validator or Validator(definitions)
        self.validation = validation  # off only for benchmarks' unvalidated baseline
        self.fields = FieldValidation(self.validator, enabled=validation)
        self.tracker = tracker

    # -- output -------------------------------------------------------------------------
    def render(self, call: Call, obj: Obj) -> Obj:
        out = call.output
        if out.table:
            items = obj["items"] if "items" in obj else [obj]
            meta = obj.get("metadata") if "items" in obj else {"resourceVersion": obj.get(
                "metadata", {}).get("resourceVersion", "")}
            table = to_table(call.resource, items, now=self.clock(),
                             include_object=out.include_object, list_meta=meta)
            return table | {"apiVersion": f"meta.k8s.io/{out.meta_version}"}
        if out.partial_metadata:
            return partial_metadata(call.resource, obj, out)
        return obj

    # -- checks -------------------------------------------------------------------------
    def track(self, call: Call, new: Obj, current: Obj | None, subresource: str = "") -> None:
        """managedFields of an Update operation, recorded where upstream's handlers record
        it: after decoding and defaulting, before the strategy and admission."""
        if self.tracker is not None:
            self.tracker.update(call.resource, new, current, manager=call.field_manager,
                                subresource=subresource, now=objects.rfc3339(self.clock()))

    def default(self, r: Resource, obj: Obj) -> None:
        """Upstream defaults every object it decodes; so do we, before the store compares."""
        if self.validation:
            self.store.strategy(r).default(r, obj)

    def check_object(self, call: Call, obj: Obj, *, name: str = "") -> None:
        r = call.resource
        # like upstream's decoder, the endpoint's group/version/kind fills in what is missing
        kind = obj.setdefault("kind", r.kind) or r.kind
        api_version = obj.setdefault("apiVersion", r.api_version) or r.api_version
        obj["kind"], obj["apiVersion"] = kind, api_version
        if kind != r.kind or api_version != r.api_version:
            raise errors.BadRequest(
                f'the API version in the data ({api_version}) and kind ({kind}) do not match '
                f'the expected API version ({r.api_version}) and kind ({r.kind}) of {r.resource}')
        meta = obj["metadata"]
        ns = meta.get("namespace")
        if r.namespaced and ns and call.namespace and ns != call.namespace:
            raise errors.BadRequest("the namespace of the provided object does not match the "
                                    "namespace sent on the request")
        if r.namespaced and not ns and call.namespace:
            meta["namespace"] = call.namespace  # as upstream fills it from the request
        if name and meta.get("name") and meta["name"] != name:
            raise errors.BadRequest(f"the name of the object ({meta['name']}) does not match "
                                    f"the name on the URL ({name})")
        if name and not meta.get("name"):
            meta["name"] = name

    def check_name(self, r: Resource, obj: Obj) -> None:
        meta = obj["metadata"]
        name, gen = meta.get("name"), meta.get("generateName")
        if not name and not gen:
            raise errors.Invalid.of(r, r.kind, "", [errors.cause(
                "metadata.name", "Required value: name or generateName is required",
                "FieldValueRequired")])
        for value, path in ((name, "metadata.name"), (gen, "metadata.generateName")):
            if not value:
                continue
            if not isinstance(value, str):
                raise errors.BadRequest(f"{path} must be a string")
            check = value if path == "metadata.name" else value + "a"
            msgs = self.store.strategy(r).name_rule(check)
            if msgs:
                raise errors.Invalid.of(r, r.kind, name or gen or "", [errors.cause(
                    path, f'Invalid value: "{value}": {m}') for m in msgs])

    # -- verbs --------------------------------------------------------------------------
    async def get(self, call: Call) -> tuple[int, Obj]:
        sub = call.info.subresource
        if sub == "scale":
            return 200, scale.to_scale(await self.store.get(call.resource, call.namespace,
                                                             call.info.name), call.resource)
        obj = await self.store.get(call.resource, call.namespace, call.info.name)
        return 200, self.render(call, obj)

    async def list(self, call: Call) -> tuple[int, Obj]:
        opts = params.list_options(call.resource, call.query)
        result = await self.store.list(call.resource, call.namespace, opts)
        return 200, self.render(call, result)

    async def create(self, call: Call) -> tuple[int, Obj]:
        sub = call.info.subresource
        if sub == "binding":
            return await self.bind(call)
        if sub == "eviction":
            return await self.evict(call)
        if sub:
            raise errors.MethodNotAllowed(f"create is not supported on {call.resource.resource}/{sub}")
        if call.info.name:  # POST names a collection, never an item
            raise errors.MethodNotAllowed(NOT_ALLOWED)
        directive = params.field_validation(call.query)
        obj = await body.decode_checked(self.fields, call, directive)
        self.check_object(call, obj)
        if not self.validation:
            self.check_name(call.resource, obj)
        self.default(call.resource, obj)
        self.track(call, obj, None)
        created = await self.store.create(call.resource, call.namespace, obj,
                                          dry_run=call.dry_run)
        return 201, self.render(call, created)

    async def update(self, call: Call) -> tuple[int, Obj]:
        sub = call.info.subresource
        if not call.info.name:  # PUT names an item, never a collection
            raise errors.MethodNotAllowed(NOT_ALLOWED)
        directive = params.field_validation(call.query)
        writable = ("", "status", *self.store.strategy(call.resource).writable_subresources)
        if sub not in (*writable, "finalize", "scale"):
            raise errors.MethodNotAllowed(f"update is not supported on {call.resource.resource}/{sub}")
        obj = await body.decode_checked(self.fields, call, directive,
                                        check=sub in (*writable, "finalize"))
        if sub == "scale":
            return await self._update_scale(call, lambda cur: obj)
        self.check_object(call, obj, name=call.info.name)
        if sub == "finalize":
            return await self._finalize(call, obj)
        self.default(call.resource, obj)

        async def replace(current: Obj | None) -> Obj:  # called once: no retries for PUT
            self.track(call, obj, current, sub)
            return obj

        result, created = await self.store.guaranteed_update(
            call.resource, call.namespace, call.info.name, replace, subresource=sub,
            dry_run=call.dry_run, retry=False)
        return (201 if created else 200), self.render(call, result)

    async def patch(self, call: Call) -> tuple[int, Obj]:
        if not call.info.name:
            raise errors.MethodNotAllowed(NOT_ALLOWED)
        ptype = codec.PATCH_TYPES.get(codec.media_type(call.content_type))
        if ptype == "apply":
            return await applypatch.apply_patch(self, call)
        if ptype is None or ptype.startswith("apply") or (
                ptype == "strategic" and not self.store.strategy(call.resource).strategic_merge):
            if ptype == "strategic":  # custom resources: no patch strategies to follow
                raise errors.UnsupportedMediaType(
                    "the body of the request was in an unknown format - accepted media types "
                    "include: application/json-patch+json, application/merge-patch+json, "
                    "application/apply-patch+yaml")
            raise errors.UnsupportedMediaType(
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/strategic-merge-patch+json, application/apply-patch+yaml")
        directive = params.field_validation(call.query)
        if params.force(call.query):
            raise errors.Invalid('PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: '
                                 'may not be specified for non-apply patch')
        patch = codec.decode_json(call.body)
        r, sub = call.resource, call.info.subresource

        async def apply(current: Obj | None) -> Obj:
            if current is None:
                raise errors.NotFound.of(r, call.info.name)
            new = self._apply_patch(call, ptype, current, patch)
            del call.warnings[warned:]  # a retried patch warns once
            self.fields.patched(r, call.body, patch, ptype, new, directive, call.warnings)
            self.default(r, new)
            self.track(call, new, current, sub)
            return new

        warned = len(call.warnings)

        if sub == "scale":
            return await self._update_scale(call, lambda cur: self._apply_patch(
                call, ptype, cur, patch, definition="io.k8s.api.autoscaling.v1.Scale"))
        if sub not in ("", "status", *self.store.strategy(r).writable_subresources):
            raise errors.MethodNotAllowed(f"patch is not supported on {r.resource}/{sub}")
        result, _ = await self.store.guaranteed_update(r, call.namespace, call.info.name, apply,
                                                       subresource=sub, dry_run=call.dry_run)
        return 200, self.render(call, result)

    def _apply_patch(self, call: Call, ptype: str, current: Obj, patch: Any,
                     definition: str | None = None) -> Obj:
        try:
            if ptype == "json":
                if not isinstance(patch, list):
                    raise PatchError("json patch must be a list of operations")
                new = apply_json_patch(current, patch)
            elif not isinstance(patch, dict):
                raise PatchError("patch must be a JSON object")
            elif ptype == "merge":
                new = apply_merge_patch(current, patch)
            else:
                new = apply_strategic_merge_patch(current, patch, self.definitions,
                                                  definition or call.resource.definition)
        except PatchError as e:
            raise patch_failure(e) from None
        if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
            raise errors.BadRequest("the patch produced an object without metadata")
        name = call.info.name
        if new["metadata"].get("name") != name:
            raise errors.BadRequest(f"the name of the object ({new['metadata'].get('name')}) "
                                    f"does not match the name on the URL ({name})")
        if definition is None:
            self.check_object(call, new, name=name)
        return new

    def delete_options(self, call: Call) -> DeleteOptions:
        """The DeleteOptions of a delete: the body, typed as upstream decodes it, then the
        query."""
        body = None
        if call.body.strip():
            body = codec.decode_body(call.body, call.content_type)
            self.fields.typed(DELETE_OPTIONS, "DeleteOptions", "v1", body, plain=True)
        return params.delete_options(call.query, body, call.dry_run)

    async def delete(self, call: Call) -> tuple[int, Obj]:
        opts = self.delete_options(call)
        r = call.resource
        obj, deleted_now = await self.store.delete(r, call.namespace, call.info.name, opts)
        if deleted_now and not self.store.strategy(r).return_deleted_object:
            details: Obj = {"name": call.info.name}  # StatusDetails' order: name, group, kind, uid
            if r.group:
                details["group"] = r.group
            details |= {"kind": r.resource, "uid": obj["metadata"].get("uid", "")}
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Success", "details": details}
        return 200, self.render(call, obj)

    async def deletecollection(self, call: Call) -> tuple[int, Obj]:
        r = call.resource
        lopts = params.list_options(r, call.query)
        dopts = self.delete_options(call)
        listed = await self.store.list(r, call.namespace, lopts)
        deleted = []
        for item in listed["items"]:
            meta = item["metadata"]
            try:
                obj, _ = await self.store.delete(r, meta.get("namespace"), meta["name"], dopts)
                deleted.append(obj)
            except errors.NotFound:
                continue
        listed["items"] = deleted
        return 200, self.render(call, listed)

    # -- subresources -------------------------------------------------------------------
    async def evict(self, call: Call) -> tuple[int, Obj]:
        body = codec.decode_object(call.body, call.content_type)
        self.fields.typed("io.k8s.api.policy.v1.Eviction", "Eviction", "v1", body)
        name = (body.get("metadata") or {}).get("name") or call.info.name
        if name != call.info.name:
            raise errors.BadRequest("name in URL does not match name in Eviction object")
        dopts = params.delete_options(call.query, eviction.delete_options_of(body), call.dry_run)
        out = await eviction.evict(self.store, self.scheme, call.resource, call.info.namespace,
                                   name, body, dopts, objects.rfc3339(self.clock()))
        return 201, out

    async def bind(self, call: Call) -> tuple[int, Obj]:
        binding = codec.decode_object(call.body, call.content_type)
        self.fields.typed("io.k8s.api.core.v1.Binding", "Binding", "v1", binding)
        target = binding.get("target") or {}
        node = target.get("name")
        if not node:
            raise errors.Invalid.of(call.resource, "Binding", call.info.name, [errors.cause(
                "target.name", "Required value", "FieldValueRequired")])
        pod_name = call.info.name

        async def assign(pod: Obj | None) -> Obj:
            if pod is None:
                raise errors.NotFound.of(call.resource, pod_name)
            if pod["metadata"].get("deletionTimestamp"):
                raise errors.Conflict(f"pod {pod_name} is being deleted, cannot be assigned "
                                      "to a host")
            spec = pod.setdefault("spec", {})
            if spec.get("nodeName"):
                raise errors.Conflict(f'pod {pod_name} is already assigned to node '
                                      f'"{spec["nodeName"]}"')
            spec["nodeName"] = node
            _set_condition(pod, "PodScheduled", "True", objects.rfc3339(self.clock()))
            return pod

        await self.store.guaranteed_update(call.resource, call.namespace, pod_name, assign,
                                           subresource="binding", dry_run=call.dry_run)
        return 201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                     "code": 201}

    async def _update_scale(self, call: Call, new_scale: Any) -> tuple[int, Obj]:
        r = call.resource

        async def apply(current: Obj | None) -> Obj:
            if current is None:
                raise errors.NotFound.of(r, call.info.name)
            wanted = new_scale(scale.to_scale(current, r))
            new = scale.apply_scale(r, current, wanted)  # a copy: current stays as it was
            self.track(call, new, current, "scale")
            return new

        result, _ = await self.store.guaranteed_update(r, call.namespace, call.info.name, apply,
                                                       dry_run=call.dry_run)
        return 200, scale.to_scale(result, r)

    async def _finalize(self, call: Call, obj: Obj) -> tuple[int, Obj]:
        """PUT namespaces/{name}/finalize: only spec.finalizers may change."""
        finalizers = (obj.get("spec") or {}).get("finalizers") or []

        async def apply(current: Obj | None) -> Obj:
            if current is None:
                raise errors.NotFound.of(call.resource, call.info.name)
            new = copy.deepcopy(current)
            new.setdefault("spec", {})["finalizers"] = list(finalizers)
            return new

        store = self.store
        result, _ = await store.guaranteed_update(call.resource, None, call.info.name, apply,
                                                  subresource="finalize", dry_run=call.dry_run)
        return 200, result


def _set_condition(obj: Obj, ctype: str, status: str, now: str) -> None:
    conds = obj.setdefault("status", {}).setdefault("conditions", [])
    for c in conds:
        if c.get("type") == ctype:
            if c.get("status") != status:
                c["status"], c["lastTransitionTime"] = status, now
            return
    conds.append({"type": ctype, "status": status, "lastProbeTime": None,
                  "lastTransitionTime": now})


def partial(obj: Obj, version: str = "v1") -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}",
            "metadata": obj.get("metadata", {})}


def partial_metadata(r: Resource, obj: Obj, out: codec.Output) -> Obj:
    """obj (an object or a list) as the PartialObjectMetadata(List) asked for; the other
    shape is upstream's 406, which names the internal Go type it had."""
    is_list = "items" in obj
    if is_list != out.partial_list:
        wanted = "PartialObjectMetadataList" if out.partial_list else "PartialObjectMetadata"
        shape = "a list" if is_list else "not a list"
        go_type = f"*{_go_package(r.group)}.{r.list_kind if is_list else r.kind}"
        raise errors.NotAcceptable(f"you requested {wanted}, but the requested object is "
                                   f"{shape} ({go_type})")
    if not is_list:
        return partial(obj, out.meta_version)
    return {"kind": "PartialObjectMetadataList", "apiVersion": f"meta.k8s.io/{out.meta_version}",
            "metadata": obj["metadata"],
            "items": [partial(o, out.meta_version) for o in obj["items"]]}


def _go_package(group: str) -> str:
    """The Go package of a group's internal types (core for the legacy group and for
    events.k8s.io, whose Event is core's)."""
    if group in ("", "events.k8s.io"):
        return "core"
    return group.split(".")[0]


def patch_failure(e: PatchError) -> errors.APIError:
    """A patch's own error with the code upstream answers: 413 past the operation limit,
    and for a JSON patch that cannot be applied (a failed `test` among them) the 422
    Invalid upstream builds with NewGenericServerResponse, whose text is generic."""
    if e.status == 413:
        return errors.RequestEntityTooLarge(f"Request entity too large: {e.message}")
    if e.status == 422:
        return errors.Invalid("the server rejected our request due to an error in our request",
                              details={})
    return errors.BadRequest(e.message)
