"""PATCH with application/apply-patch+yaml: server-side apply over HTTP.

Owns the request side of an apply: the fieldManager it requires, ?force=, the checks
upstream makes on the configuration (its apiVersion and name, no managedFields), field
validation of the configuration, and create-on-apply (201) when the object is missing.
The merge and the ownership rules are kapi.patch.apply; conflicts become the 409 with
one FieldManagerConflict cause per field. Never touches storage but through the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kapi import errors
from kapi.endpoints import params
from kapi.endpoints.fieldvalidation import decode_apply_config
from kapi.meta import objects
from kapi.patch.apply import ApplyConflicts, Request, apply

if TYPE_CHECKING:
    from kapi.endpoints.handlers import Call, Handlers
    from kapi.validation.typeinfo import TypeNode

Obj = dict[str, Any]
MAX_CREATE_RACES = 3


class _Missing(Exception):
    """The object to apply to does not exist (yet)."""


def _config(call: Call) -> Obj:
    r = call.resource
    config = decode_apply_config(call.body)
    if not isinstance(config, dict):
        raise errors.BadRequest("the body of an apply patch must be an object")
    version = config.get("apiVersion")
    if version != r.api_version:
        raise errors.BadRequest(f"Incorrect version specified in apply patch. Specified patch "
                                f"version: {version}, expected: {r.api_version}")
    if config.get("kind") != r.kind:
        raise errors.BadRequest(f"Incorrect kind specified in apply patch. Specified patch "
                                f"kind: {config.get('kind')}, expected: {r.kind}")
    meta = config.get("metadata")
    if not isinstance(meta, dict):
        raise errors.BadRequest("metadata must be an object")
    if meta.get("managedFields") is not None:
        raise errors.BadRequest("metadata.managedFields must be nil")
    name = meta.get("name")
    if name and name != call.info.name:
        raise errors.BadRequest(f"the name of the object ({name}) does not match the name on "
                                f"the URL ({call.info.name})")
    ns = meta.get("namespace")
    if r.namespaced and ns and call.namespace and ns != call.namespace:
        raise errors.BadRequest("the namespace of the provided object does not match the "
                                "namespace sent on the request")
    return config


async def apply_patch(h: Handlers, call: Call) -> tuple[int, Obj]:
    r, sub = call.resource, call.info.subresource
    if sub not in ("", "status"):
        raise errors.MethodNotAllowed(f"patch is not supported on {r.resource}/{sub}")
    manager = params.apply_field_manager(call.query)
    directive = params.field_validation(call.query)
    config = _config(call)
    where = f"{call.namespace or ''}/{call.info.name}; {r.api_version}, Kind={r.kind}"
    h.fields.applied(r, call.body, config, directive, call.warnings, where)
    node = h.validator.type_of(r.definition)
    if node is None:
        raise errors.BadRequest(f"server-side apply is not supported for {r.resource}")
    req = Request(manager, r.api_version, sub, params.force(call.query),
                  r.subresource("status") is not None, objects.rfc3339(h.clock()))
    for _ in range(MAX_CREATE_RACES):
        try:
            return await _apply_to_live(h, call, node, config, req)
        except _Missing:
            if sub:
                raise errors.NotFound.of(r, call.info.name) from None
        try:
            return await _create(h, call, node, config, req)
        except errors.AlreadyExists:
            continue  # created meanwhile: apply to it
    raise errors.Conflict.modified(r, call.info.name)


def _applied(h: Handlers, call: Call, node: TypeNode, live: Obj | None, config: Obj,
             req: Request) -> Obj:
    """kapi.patch.apply, defaulted as upstream defaults the merged object; its errors
    as API errors (conflicts are the 409 naming every conflicting field)."""
    try:
        new = apply(node, live, config, req)
    except ApplyConflicts as e:
        raise errors.Conflict(e.message(), details={"causes": e.causes()}) from None
    except ValueError as e:
        raise errors.BadRequest(str(e)) from None
    h.default(call.resource, new)
    return new


async def _apply_to_live(h: Handlers, call: Call, node: TypeNode, config: Obj,
                         req: Request) -> tuple[int, Obj]:
    async def merge(current: Obj | None) -> Obj:
        if current is None:
            raise _Missing()
        return _applied(h, call, node, current, config, req)

    result, _ = await h.store.guaranteed_update(
        call.resource, call.namespace, call.info.name, merge, subresource=req.subresource,
        dry_run=call.dry_run)
    return 200, h.render(call, result)


async def _create(h: Handlers, call: Call, node: TypeNode, config: Obj,
                  req: Request) -> tuple[int, Obj]:
    """Apply to nothing: the configuration (defaulted) becomes the object."""
    config = dict(config, metadata=dict(config["metadata"], name=call.info.name))
    new = _applied(h, call, node, None, config, req)
    created = await h.store.create(call.resource, call.namespace, new, dry_run=call.dry_run)
    return 201, h.render(call, created)
