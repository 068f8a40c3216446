"""ObjectMeta validation (upstream's ValidateObjectMeta / ValidateObjectMetaUpdate) and
the shared pieces every kind uses: name rules, labels, annotations, finalizers,
owner references, label selectors.

Pure functions returning every FieldError with its path; never raises.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import orjson

from kapi.validation import rules
from kapi.validation.field import FieldError, forbidden, invalid, required, too_long

Obj = dict[str, Any]
NameFn = Callable[[str], Sequence[str]]

TOTAL_ANNOTATION_SIZE = 256 * 1024
STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


def path_segment_name(name: str) -> list[str]:
    """RBAC objects: any name usable as a URL path segment."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    for bad in ("/", "%"):
        if bad in name:
            return [f"may not contain '{bad}'"]
    return []


def cronjob_name(name: str) -> list[str]:
    errs = list(rules.is_dns1123_subdomain(name))
    if len(name) > 52:
        errs.append("must be no more than 52 characters")
    return errs


def validate_object_meta(meta: Any, name_rule: NameFn, namespaced: bool,
                         path: str = "metadata") -> list[FieldError]:
    """ObjectMeta of a new object whose kind names objects by `name_rule` (upstream:
    DNS-1123 subdomains unless the kind's strategy says otherwise)."""
    if not isinstance(meta, dict):
        return [required(path)]
    errs = _names(meta, name_rule, path)
    if namespaced and meta.get("namespace") is not None:
        errs += [invalid(f"{path}.namespace", meta["namespace"], m)
                 for m in rules.is_dns1123_label(str(meta["namespace"]))]
    errs += validate_labels(meta.get("labels"), f"{path}.labels")
    errs += validate_annotations(meta.get("annotations"), f"{path}.annotations")
    errs += validate_finalizers(meta.get("finalizers"), f"{path}.finalizers")
    errs += validate_owner_references(meta.get("ownerReferences"), f"{path}.ownerReferences")
    return errs


def _names(meta: Obj, rule: NameFn, path: str) -> list[FieldError]:
    name, gen = meta.get("name"), meta.get("generateName")
    errs: list[FieldError] = []
    if gen:
        masked = gen[:-1] + "a" if gen.endswith("-") else gen
        errs += [invalid(f"{path}.generateName", gen, m) for m in rule(masked)]
    if not name and not gen:
        errs.append(required(f"{path}.name", "name or generateName is required"))
    elif name:
        errs += [invalid(f"{path}.name", name, m) for m in rule(str(name))]
    return errs


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key, value in sorted((labels or {}).items()):
        msgs = rules.is_qualified_name(key)
        if msgs:
            errs += [invalid(path, key, m) for m in msgs]
        msgs = rules.is_label_value(str(value))
        if msgs:
            errs += [invalid(path, value, m) for m in msgs]
    return errs


def validate_annotations(annotations: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    total = 0
    for key, value in sorted((annotations or {}).items()):
        errs += [invalid(path, key, m) for m in rules.is_qualified_name(key.lower())]
        total += len(key) + len(str(value).encode())
    if total > TOTAL_ANNOTATION_SIZE:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE))
    return errs


def validate_finalizers(finalizers: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for f in finalizers or ():
        msgs = rules.is_qualified_name(f)
        if msgs:
            errs += [invalid(path, f, m) for m in msgs]
        elif "/" not in f and f not in STANDARD_FINALIZERS:
            errs.append(invalid(path, f, "name is neither a standard finalizer name nor is "
                                         "it fully qualified"))
    return errs


def validate_owner_references(refs: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    controllers = 0
    for ref in refs or ():
        if not isinstance(ref, dict):
            continue
        if not ref.get("apiVersion"):
            errs.append(invalid(f"{path}.apiVersion", "", "version must not be empty"))
        if not ref.get("kind"):
            errs.append(invalid(f"{path}.kind", "", "kind must not be empty"))
        if not ref.get("name"):
            errs.append(invalid(f"{path}.name", "", "name must not be empty"))
        if not ref.get("uid"):
            errs.append(invalid(f"{path}.uid", "", "uid must not be empty"))
        controllers += 1 if ref.get("controller") else 0
    if controllers > 1:
        errs.append(invalid(path, refs, "Only one reference can have Controller set to true"))
    return errs


def validate_object_meta_update(new: Obj, old: Obj, path: str = "metadata") -> list[FieldError]:
    errs: list[FieldError] = []
    for f in ("name", "namespace"):
        if new.get(f) != old.get(f):
            errs.append(invalid(f"{path}.{f}", new.get(f), "field is immutable"))
    if old.get("deletionTimestamp") and len(new.get("finalizers") or []) > 0:
        added = set(new.get("finalizers") or []) - set(old.get("finalizers") or [])
        if added:
            errs.append(forbidden(f"{path}.finalizers", "no new finalizers can be added if "
                                  "the object is being deleted, found new finalizers "
                                  + _go_strings(sorted(added))))
    return errs


def _go_strings(values: list[str]) -> str:
    return "[]string{" + ", ".join(orjson.dumps(v).decode() for v in values) + "}"


def validate_label_selector(sel: Any, path: str) -> list[FieldError]:
    """metav1validation.ValidateLabelSelector."""
    if not isinstance(sel, dict):
        return []
    errs: list[FieldError] = []
    for i, req in enumerate(sel.get("matchExpressions") or ()):
        p = f"{path}.matchExpressions[{i}]"
        op, values = req.get("operator"), req.get("values") or []
        if op in ("In", "NotIn") and not values:
            errs.append(required(f"{p}.values", "must be specified when `operator` is 'In' "
                                                "or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist") and values:
            errs.append(forbidden(f"{p}.values", "may not be specified when `operator` is "
                                                 "'Exists' or 'DoesNotExist'"))
        elif op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            errs.append(invalid(f"{p}.operator", op, "not a valid selector operator"))
        errs += [invalid(f"{p}.key", req.get("key", ""), m)
                 for m in rules.is_qualified_name(str(req.get("key", "")))]
    errs += validate_labels(sel.get("matchLabels"), f"{path}.matchLabels")
    return errs


def selector_matches(sel: Any, labels: Any) -> bool:
    """Does a LabelSelector select these labels (an empty selector matches all)."""
    if not isinstance(sel, dict):
        return False
    labels = labels or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for req in sel.get("matchExpressions") or ():
        key, op, values = req.get("key"), req.get("operator"), req.get("values") or []
        has = key in labels
        if op == "In" and not (has and labels[key] in values):
            return False
        if op == "NotIn" and has and labels[key] in values:
            return False
        if op == "Exists" and not has:
            return False
        if op == "DoesNotExist" and has:
            return False
    return True


def selector_is_empty(sel: Any) -> bool:
    return not isinstance(sel, dict) or (not sel.get("matchLabels")
                                         and not sel.get("matchExpressions"))
