"""The `fieldValidation` query parameter: Strict (a 400 listing every unknown and
duplicate field), Warn (one `Warning:` header each; the default) and Ignore, over the
body of a create or update, the patch and patched object of a patch, and the applied
configuration of a server-side apply.

Owns the wording and order upstream uses in each case; the findings themselves come
from kapi.validation (decoding, duplicates). Unknown fields are dropped from the object
under Warn and Ignore, as decoding into Go structs drops them. A value of the wrong type
is always a 400 (`Deployment in version "v1" cannot be handled as a Deployment: json:
cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`).
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from kapi import errors
from kapi.endpoints.codec import check_depth, media_type
from kapi.meta.resources import Resource
from kapi.registry.kinds.base import strategy_of
from kapi.validation import Validator, yamlload
from kapi.validation.duplicates import (
    duplicate_paths,
    json_may_repeat_keys,
    json_patch_problems,
    json_with_pairs,
    yaml_duplicates,
)

STRICT, WARN, IGNORE = "Strict", "Warn", "Ignore"


def _is_yaml(content_type: str | None) -> bool:
    mt = media_type(content_type)
    return mt.endswith("yaml")


def _cannot_handle(r: Resource, detail: str) -> errors.BadRequest:
    return errors.BadRequest(f'{r.kind} in version "{r.version}" cannot be handled as a '
                             f'{r.kind}: {detail}')


class FieldValidation:
    """Applies a fieldValidation directive for one server (with its compiled types)."""

    def __init__(self, validator: Validator, *, enabled: bool = True) -> None:
        self.validator = validator
        self.enabled = enabled

    def body(self, r: Resource, obj: dict[str, Any], raw: bytes, content_type: str | None,
             directive: str, warnings: list[str], yaml_dups: list[str] | None = None) -> None:
        """A create or update body (obj decoded from raw; a YAML body's repeated keys in
        yaml_dups when its decoding found them already)."""
        if not self.enabled:
            return
        prune = directive != STRICT
        if _is_yaml(content_type):
            if directive == IGNORE:
                dups = []
            else:
                dups = yaml_dups if yaml_dups is not None else yaml_duplicates(raw)
            found = self.validator.inspect(r.definition, obj, sort_keys=True, prune=prune)
            self._type_error(r, found.type_error)
            if dups and directive == STRICT:
                dups = ["yaml: unmarshal errors:\n  " + "\n  ".join(dups)]
            self._report(r, dups + found.problems, directive, warnings)
            return
        found = self.validator.inspect(r.definition, obj, prune=prune)
        self._type_error(r, found.type_error)
        is_json = not media_type(content_type).startswith("application/vnd.kubernetes")
        if directive != IGNORE and is_json and json_may_repeat_keys(raw, obj, found.keys):
            try:  # rare: walk again over every (key, value) pair, in document order
                found = self.validator.inspect(r.definition, json_with_pairs(raw))
            except ValueError:
                pass
        self._report(r, found.problems, directive, warnings)

    def patched(self, r: Resource, patch_raw: bytes, patch: Any, ptype: str,
                obj: dict[str, Any], directive: str, warnings: list[str]) -> None:
        """The result of a json, merge or strategic merge patch (`patch` decoded from
        patch_raw)."""
        if not self.enabled:
            return
        problems: list[str] = []
        if directive != IGNORE:
            if ptype == "json":
                problems = json_patch_problems(patch_raw)
            elif json_may_repeat_keys(patch_raw, patch):
                try:
                    problems = duplicate_paths(json_with_pairs(patch_raw))
                except ValueError:
                    problems = []
        # managedFields come from the stored object (the tracker checks any a patch sets)
        meta = obj.get("metadata")
        managed = meta.pop("managedFields", None) if isinstance(meta, dict) else None
        try:
            found = self.validator.inspect(r.definition, obj, count=False)
            if found.problems:  # upstream lists them in key order: walk again, sorted
                found = self.validator.inspect(r.definition, obj, count=False,
                                               sort_keys=True, prune=directive != STRICT)
        finally:
            if managed is not None:
                meta["managedFields"] = managed  # type: ignore[index]
        self._type_error(r, found.type_error)
        self._report(r, problems + found.problems, directive, warnings)

    def applied(self, r: Resource, raw: bytes, config: dict[str, Any], directive: str,
                warnings: list[str], where: str) -> None:
        """A server-side apply configuration: duplicates per directive; unknown fields
        and wrong types are always refused, as the typed conversion refuses them."""
        if not self.enabled:
            return
        found = self.validator.inspect(r.definition, config)
        json_body = raw.lstrip().startswith(b"{")
        if directive != IGNORE and (not json_body or json_may_repeat_keys(
                raw, config, found.keys)):
            dups = yaml_duplicates(raw)  # composing YAML is slow: only when it may matter
            if dups and directive == STRICT:
                raise errors.BadRequest("error strict decoding YAML: error converting YAML to "
                                        "JSON: yaml: unmarshal errors:\n  " + "\n  ".join(dups))
            warnings.extend(dups)
        if found.unknown:
            raise errors.ApplyFailed(f"failed to create typed patch object ({where}): "
                                     f".{found.unknown[0]}: field not declared in schema")
        if found.type_error:
            raise errors.ApplyFailed(f"failed to create typed patch object ({where}): "
                                     f"{found.type_error}")

    def typed(self, definition: str, kind: str, version: str, obj: Any, *,
              plain: bool = False) -> None:
        """A body of a fixed kind (a Binding, an Eviction, DeleteOptions): a value of the
        wrong type is a 400, whatever the directive and even with validation off, since
        the handler reads these fields itself. `plain` leaves out the "cannot be handled
        as" preamble (upstream's DeleteOptions decoding reports the bare error)."""
        found = self.validator.inspect(definition, obj, count=False)
        if found.type_error:
            raise errors.BadRequest(found.type_error if plain else
                                    f'{kind} in version "{version}" cannot be handled as a '
                                    f'{kind}: {found.type_error}')

    def _type_error(self, r: Resource, message: str | None) -> None:
        if message and strategy_of(r).typed_decoding:
            raise _cannot_handle(r, message)

    def _report(self, r: Resource, problems: list[str], directive: str,
                warnings: list[str]) -> None:
        if not problems or directive == IGNORE:
            return
        if directive == STRICT:
            raise _cannot_handle(r, "strict decoding error: " + ", ".join(problems))
        warnings.extend(problems)


def decode_apply_config(raw: bytes) -> Any:
    """An apply body: JSON when it looks like JSON (kubectl and the clients send JSON),
    YAML otherwise."""
    text = raw.lstrip()
    if text.startswith(b"{"):
        try:
            return check_depth(orjson.loads(raw), raw)
        except orjson.JSONDecodeError:
            pass
    try:
        return check_depth(yamlload.load(raw), raw, walk=True)
    except yaml.YAMLError as e:
        raise errors.BadRequest(f"error decoding YAML: {e}") from None
