"""CustomResourceDefinition (apiextensions.k8s.io/v1) validation, with upstream's messages:
group, names, scope, versions (one storage version, unique DNS-1035 names), conversion,
subresources, additionalPrinterColumns, the structural-schema rules of each version's
openAPIV3Schema (every field typed, the root an object, no metadata beyond name and
generateName, list types with their keys, CEL rules that compile), the immutable fields
of an update and status.storedVersions.

Pure functions returning every FieldError; no HTTP, no storage.
"""

from __future__ import annotations

from typing import Any, Iterator

from kapi.validation import celrules, rules
from kapi.validation import field as f
from kapi.validation.admissionregistration import REVIEW_VERSIONS, _client_config
from kapi.validation.field import FieldError

Obj = dict[str, Any]
SCOPES = ["Cluster", "Namespaced"]
COLUMN_TYPES = ["boolean", "date", "integer", "number", "string"]
_META_ALLOWED = {"name", "generateName"}


def name_rule(crd: Obj) -> Any:
    """The metadata.name rule: a DNS subdomain equal to <plural>.<group>."""
    spec = crd.get("spec") or {}
    wanted = f"{(spec.get('names') or {}).get('plural', '')}.{spec.get('group', '')}"

    def check(name: str) -> list[str]:
        msgs = list(rules.is_dns1123_subdomain(name))
        if name != wanted:
            msgs.append('must be spec.names.plural+"."+spec.group')
        return msgs
    return check


def validate_spec(spec: Any) -> list[FieldError]:
    if not isinstance(spec, dict):
        return [f.required("spec")]
    errs = _group(spec.get("group"))
    scope = spec.get("scope")
    if not scope:
        errs.append(f.required("spec.scope"))
    elif scope not in SCOPES:
        errs.append(f.not_supported("spec.scope", scope, SCOPES))
    versions = spec.get("versions") or []
    errs += _versions(versions)
    errs += _names(spec.get("names") or {}, "spec.names", required=True)
    errs += _conversion(spec.get("conversion") or {})
    return errs


def _group(group: Any) -> list[FieldError]:
    if not group:
        return [f.required("spec.group")]
    problems = rules.is_dns1123_subdomain(str(group))
    if problems:
        return [f.invalid("spec.group", group, ",".join(problems))]
    if "." not in str(group):
        return [f.invalid("spec.group", group, "should be a domain with at least one dot")]
    return []


def _versions(versions: list[Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    names: list[str] = []
    shown = f.GoValue("[]apiextensions.CustomResourceDefinitionVersion{...}")
    for i, v in enumerate(versions):
        if not isinstance(v, dict):
            continue
        base = f"spec.versions[{i}]"
        name = str(v.get("name") or "")
        problems = rules.is_dns1035_label(name)
        if problems:
            errs.append(f.invalid(f"{base}.name", name, ",".join(problems)))
        names.append(name)
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            errs.append(f.required(f"{base}.schema.openAPIV3Schema", "schemas are required"))
        else:
            errs += list(structural(schema, f"{base}.schema.openAPIV3Schema", root=True))
        errs += _columns(v.get("additionalPrinterColumns") or [], base)
        errs += _subresources(v.get("subresources") or {}, base)
    if not versions:
        errs.append(f.invalid("spec.versions", f.GoValue(
            "[]apiextensions.CustomResourceDefinitionVersion(nil)"),
            "must have exactly one version marked as storage version"))
    else:
        if len(set(names)) != len(names):
            errs.append(f.invalid("spec.versions", shown, "must contain unique version names"))
        if sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
            errs.append(f.invalid("spec.versions", shown,
                                  "must have exactly one version marked as storage version"))
    return errs


def _names(names: Obj, path: str, required: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("plural", "singular", "kind", "listKind"):
        if required and not names.get(key):
            errs.append(f.required(f"{path}.{key}"))
    for key in ("plural", "singular"):
        value = names.get(key)
        if value:
            problems = rules.is_dns1035_label(str(value))
            if problems:
                errs.append(f.invalid(f"{path}.{key}", value, ",".join(problems)))
    for key in ("kind", "listKind"):
        value = names.get(key)
        if value:
            problems = rules.is_dns1035_label(str(value).lower())
            if problems:
                errs.append(f.invalid(f"{path}.{key}", value,
                                      "may have mixed case, but should otherwise match: "
                                      + ",".join(problems)))
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        errs.append(f.invalid(f"{path}.listKind", names["listKind"], "kind and listKind "
                                                                       "may not be the same"))
    for field_name in ("shortNames", "categories"):
        for i, value in enumerate(names.get(field_name) or []):
            problems = rules.is_dns1035_label(str(value))
            if problems:
                errs.append(f.invalid(f"{path}.{field_name}[{i}]", value, ",".join(problems)))
    return errs


def _conversion(conversion: Obj) -> list[FieldError]:
    strategy = conversion.get("strategy")
    if strategy not in ("None", "Webhook"):
        return [f.not_supported("spec.conversion.strategy", strategy, ["None", "Webhook"])]
    if strategy == "None" and conversion.get("webhook"):
        return [f.forbidden("spec.conversion.webhook", "should not be set when strategy is "
                                                       "not set to Webhook")]
    if strategy == "Webhook" and not conversion.get("webhook"):
        return [f.required("spec.conversion.webhook", "required when strategy is set to "
                                                      "Webhook")]
    return _webhook(conversion["webhook"]) if strategy == "Webhook" else []


def _webhook(hook: Any) -> list[FieldError]:
    """A conversion webhook: where to reach it and a ConversionReview version kapi speaks."""
    path = "spec.conversion.webhook"
    if not isinstance(hook, dict):
        return [f.invalid(path, hook, "must be an object")]
    errs = _client_config(hook.get("clientConfig"), f"{path}.clientConfig")
    versions = hook.get("conversionReviewVersions")
    if not versions:
        errs.append(f.required(f"{path}.conversionReviewVersions",
                               "must include at least one of v1, v1beta1"))
    elif not isinstance(versions, list) or not any(v in REVIEW_VERSIONS for v in versions):
        errs.append(f.invalid(f"{path}.conversionReviewVersions", versions,
                              "must include at least one of v1, v1beta1"))
    return errs


def _columns(columns: list[Any], base: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, c in enumerate(columns):
        path = f"{base}.additionalPrinterColumns[{i}]"
        if not isinstance(c, dict):
            continue
        if not c.get("name"):
            errs.append(f.required(f"{path}.name"))
        if not c.get("type"):
            errs.append(f.required(f"{path}.type"))
        elif c["type"] not in COLUMN_TYPES:
            errs.append(f.not_supported(f"{path}.type", c["type"], COLUMN_TYPES))
        if not c.get("jsonPath"):
            errs.append(f.required(f"{path}.JSONPath"))
    return errs


def _subresources(sub: Obj, base: str) -> list[FieldError]:
    scale = sub.get("scale")
    if not isinstance(scale, dict):
        return []
    path = f"{base}.subresources.scale"
    errs = []
    for key in ("specReplicasPath", "statusReplicasPath"):
        value = scale.get(key)
        if not value:
            errs.append(f.required(f"{path}.{key}"))
        elif not str(value).startswith("."):
            errs.append(f.invalid(f"{path}.{key}", value, "should be a json path under "
                                                          ".spec" if "spec" in key else
                                  "should be a json path under .status"))
    return errs


def structural(schema: Any, path: str, root: bool = False) -> Iterator[FieldError]:
    """The structural-schema rules (NewStructural + validateStructuralInvariants)."""
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    preserve = schema.get("x-kubernetes-preserve-unknown-fields")
    int_or_string = schema.get("x-kubernetes-int-or-string")
    if root and kind != "object":
        yield f.invalid(f"{path}.type", kind or "", "must be object at the root")
    elif not kind and not preserve and not int_or_string:
        yield f.required(f"{path}.type", "must not be empty for specified object fields"
                         if not root else "must not be empty at the root")
    props = schema.get("properties") or {}
    if root and isinstance(props.get("metadata"), dict):
        meta = props["metadata"]
        declared = set(meta.get("properties") or {}) - _META_ALLOWED
        if declared or meta.get("type", "object") != "object":
            yield f.forbidden(f"{path}.properties[metadata]", "must not specify anything "
                              "other than name and generateName, but metadata is implicitly "
                              "specified")
    for name, sub in props.items():
        if root and name == "metadata":
            continue
        yield from structural(sub, f"{path}.properties[{name}]")
    items = schema.get("items")
    if kind == "array" and not isinstance(items, dict):
        yield f.required(f"{path}.items", "must be specified")
    elif isinstance(items, dict):
        yield from structural(items, f"{path}.items")
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield from structural(extra, f"{path}.additionalProperties")
    yield from _list_rules(schema, path)
    for i, rule in enumerate(schema.get(celrules.RULES) or []):
        if isinstance(rule, dict):
            rpath = f"{path}.x-kubernetes-validations[{i}]"
            if not rule.get("rule"):
                yield f.required(f"{rpath}.rule")
            for key, problem in celrules.compile_problems(rule):
                yield f.invalid(f"{rpath}.{key}", rule.get(key), problem)


def _list_rules(schema: Obj, path: str) -> Iterator[FieldError]:
    list_type = schema.get("x-kubernetes-list-type")
    if list_type is None:
        if schema.get("x-kubernetes-list-map-keys"):
            yield f.forbidden(f"{path}.x-kubernetes-list-map-keys",
                              "requires x-kubernetes-list-type=map")
        return
    if list_type not in ("atomic", "set", "map"):
        yield f.not_supported(f"{path}.x-kubernetes-list-type", list_type,
                              ["atomic", "set", "map"])
    elif list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        if not keys:
            yield f.required(f"{path}.x-kubernetes-list-map-keys",
                             "must not be empty if x-kubernetes-list-type is map")
        item_props = ((schema.get("items") or {}).get("properties") or {})
        for k in keys:
            if k not in item_props:
                yield f.required(f"{path}.items.properties[{k}]",
                                 "entries with x-kubernetes-list-map-keys must exist")


def validate_update(new: Obj, old: Obj) -> list[FieldError]:
    """What may not change once the definition is Established."""
    errs: list[FieldError] = []
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    if ns.get("scope") != os_.get("scope") and _established(old):
        errs.append(f.invalid("spec.scope", ns.get("scope"), "field is immutable"))
    if ns.get("group") != os_.get("group"):
        errs.append(f.invalid("spec.group", ns.get("group"), "field is immutable"))
    return errs


def stored_versions(crd: Obj) -> list[FieldError]:
    stored = (crd.get("status") or {}).get("storedVersions") or []
    versions = (crd.get("spec") or {}).get("versions") or []
    names = {v.get("name") for v in versions if isinstance(v, dict)}
    errs = []
    for i, v in enumerate(stored):
        if v not in names:
            errs.append(f.invalid(f"status.storedVersions[{i}]", v, (
                f"missing from spec.versions; {v} was previously a storage version, and must "
                "remain in spec.versions until a storage migration ensures no data remains "
                f"persisted in {v} and removes {v} from status.storedVersions")))
    return errs


def _established(crd: Obj) -> bool:
    for c in (crd.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Established":
            return c.get("status") == "True"
    return False
