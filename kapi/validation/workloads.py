"""Workload validation: Deployment, ReplicaSet, StatefulSet, DaemonSet (apps/v1) and Job,
CronJob (batch/v1), after upstream's pkg/apis/apps/validation and
pkg/apis/batch/validation: replicas and counts, selectors that must match the template,
strategies, restart policies, and the fields an update may not change.

Pure functions over the v1 dict form returning every FieldError with its path.
"""

from __future__ import annotations

import re
from typing import Any

from kapi.validation import meta, pod, rules
from kapi.validation.field import (
    FieldError,
    GoValue,
    forbidden,
    go_label_selector,
    go_string_map,
    invalid,
    not_supported,
    required,
)

Obj = dict[str, Any]
NEGATIVE = "must be greater than or equal to 0"
STS_UPDATE_MESSAGE = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
    "'minReadySeconds' are forbidden")
STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
               "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def nonnegative(spec: Obj, key: str, path: str) -> list[FieldError]:
    v = spec.get(key)
    if isinstance(v, int) and not isinstance(v, bool) and v < 0:
        return [invalid(f"{path}.{key}", v, NEGATIVE)]
    return []


def validate_selector(spec: Obj, path: str, what: str) -> list[FieldError]:
    sel = spec.get("selector")
    if sel is None:
        return [required(f"{path}.selector")]
    errs = meta.validate_label_selector(sel, f"{path}.selector")
    if meta.selector_is_empty(sel):
        errs.append(invalid(f"{path}.selector", go_label_selector(sel),
                            f"empty selector is invalid for {what}"))
    return errs


def validate_template(spec: Obj, path: str, restart: tuple[str, ...],
                      replicated: bool = True, selected: bool = True) -> list[FieldError]:
    """ValidatePodTemplateSpecForReplicaSet (and the Job variant)."""
    tpl = spec.get("template")
    if not isinstance(tpl, dict):
        return [required(f"{path}.template")]
    tmeta = m if isinstance(m := tpl.get("metadata"), dict) else {}
    errs: list[FieldError] = []
    sel = spec.get("selector")
    if selected and (sel is None or not meta.selector_is_empty(sel)):
        if not meta.selector_matches(sel, tmeta.get("labels")):
            errs.append(invalid(f"{path}.template.metadata.labels",
                                go_string_map(tmeta.get("labels")),
                                "`selector` does not match template `labels`"))
    errs += meta.validate_labels(tmeta.get("labels"), f"{path}.template.metadata.labels")
    errs += meta.validate_annotations(tmeta.get("annotations"),
                                      f"{path}.template.metadata.annotations")
    tspec = tpl.get("spec")
    errs += pod.validate_pod_spec(tspec, f"{path}.template.spec")
    policy = (tspec or {}).get("restartPolicy") if isinstance(tspec, dict) else None
    if policy is not None and policy not in restart:
        errs.append(not_supported(f"{path}.template.spec.restartPolicy", policy, restart))
    if replicated and isinstance(tspec, dict) and tspec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden(f"{path}.template.spec.activeDeadlineSeconds",
                              "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return errs


def _int_or_percent(value: Any, path: str) -> list[FieldError]:
    if isinstance(value, str):
        errs = [invalid(path, GoValue(value), m) for m in rules.is_percent(value)]
        if not errs and int(value[:-1]) > 100:
            errs.append(invalid(path, GoValue(value), "must not be greater than 100%"))
        return errs
    if isinstance(value, int) and value < 0:
        return [invalid(path, value, NEGATIVE)]
    return []


def _zero(value: Any) -> bool:
    if isinstance(value, str) and value.endswith("%"):
        return value[:-1].isdigit() and int(value[:-1]) == 0
    return value in (0, None)


def validate_rolling_update(ru: Any, path: str) -> list[FieldError]:
    if not isinstance(ru, dict):
        return []
    errs = _int_or_percent(ru.get("maxUnavailable"), f"{path}.maxUnavailable")
    errs += _int_or_percent(ru.get("maxSurge"), f"{path}.maxSurge")
    if _zero(ru.get("maxUnavailable")) and _zero(ru.get("maxSurge")):
        errs.append(invalid(f"{path}.maxUnavailable", GoValue(str(ru.get("maxUnavailable", 0))),
                            "may not be 0 when `maxSurge` is 0"))
    return errs


# -- apps ---------------------------------------------------------------------------------
def validate_deployment(obj: Obj) -> list[FieldError]:
    spec, p = _spec(obj), "spec"
    errs = nonnegative(spec, "replicas", p) + validate_selector(spec, p, "deployment")
    errs += validate_template(spec, p, ("Always",))
    strategy = spec.get("strategy") or {}
    stype = strategy.get("type")
    if stype == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            errs.append(forbidden(f"{p}.strategy.rollingUpdate", "may not be specified when "
                                                                "strategy `type` is 'Recreate'"))
    elif stype == "RollingUpdate":
        errs += validate_rolling_update(strategy.get("rollingUpdate"), f"{p}.strategy.rollingUpdate")
    elif stype is not None:
        errs.append(not_supported(f"{p}.strategy.type", stype, ("Recreate", "RollingUpdate")))
    for key in ("minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"):
        errs += nonnegative(spec, key, p)
    pds = spec.get("progressDeadlineSeconds")
    if isinstance(pds, int) and pds <= int(spec.get("minReadySeconds") or 0):
        errs.append(invalid(f"{p}.progressDeadlineSeconds", pds,
                            "must be greater than minReadySeconds"))
    return errs


def validate_replicaset(obj: Obj) -> list[FieldError]:
    spec = _spec(obj)
    errs = nonnegative(spec, "replicas", "spec") + nonnegative(spec, "minReadySeconds", "spec")
    errs += validate_selector(spec, "spec", "deployment")
    return errs + validate_template(spec, "spec", ("Always",))


def validate_statefulset(obj: Obj) -> list[FieldError]:
    spec = _spec(obj)
    errs: list[FieldError] = []
    policy = spec.get("podManagementPolicy")
    if policy is not None and policy not in ("OrderedReady", "Parallel"):
        errs.append(not_supported("spec.podManagementPolicy", policy, ("OrderedReady", "Parallel")))
    utype = (spec.get("updateStrategy") or {}).get("type")
    if utype is not None and utype not in ("OnDelete", "RollingUpdate"):
        errs.append(not_supported("spec.updateStrategy.type", utype, ("OnDelete", "RollingUpdate")))
    for key in ("replicas", "minReadySeconds", "revisionHistoryLimit"):
        errs += nonnegative(spec, key, "spec")
    errs += validate_selector(spec, "spec", "statefulset")
    return errs + validate_template(_with_claim_volumes(spec), "spec", ("Always",))


def _with_claim_volumes(spec: Obj) -> Obj:
    """spec whose template also has a volume per volumeClaimTemplate, as each pod will:
    upstream validates containers' volumeMounts against those too."""
    claims = [c.get("metadata", {}).get("name") for c in spec.get("volumeClaimTemplates") or ()
              if isinstance(c, dict) and isinstance(c.get("metadata"), dict)]
    tpl = spec.get("template")
    tspec = tpl.get("spec") if isinstance(tpl, dict) else None
    claims = [n for n in claims if isinstance(n, str) and n]
    if not claims or not isinstance(tpl, dict) or not isinstance(tspec, dict):
        return spec
    volumes = tspec.get("volumes")
    have: list[Any] = volumes if isinstance(volumes, list) else []
    named = {v.get("name") for v in have if isinstance(v, dict)}
    extra = [{"name": n, "persistentVolumeClaim": {"claimName": n}}
             for n in claims if n not in named]
    return dict(spec, template=dict(tpl, spec=dict(tspec, volumes=[*have, *extra])))


def validate_daemonset(obj: Obj) -> list[FieldError]:
    spec = _spec(obj)
    errs = validate_selector(spec, "spec", "daemonset")
    errs += validate_template(spec, "spec", ("Always",))
    strategy = spec.get("updateStrategy") or {}
    utype = strategy.get("type")
    if utype == "RollingUpdate":
        errs += validate_rolling_update(strategy.get("rollingUpdate"),
                                        "spec.updateStrategy.rollingUpdate")
    elif utype is not None and utype != "OnDelete":
        errs.append(not_supported("spec.updateStrategy.type", utype, ("OnDelete", "RollingUpdate")))
    for key in ("minReadySeconds", "revisionHistoryLimit"):
        errs += nonnegative(spec, key, "spec")
    return errs


def immutable_selector(new: Obj, old: Obj) -> list[FieldError]:
    sel_new, sel_old = _spec(new).get("selector"), _spec(old).get("selector")
    if sel_new != sel_old:
        return [invalid("spec.selector", go_label_selector(sel_new), "field is immutable")]
    return []


def validate_statefulset_update(new: Obj, old: Obj) -> list[FieldError]:
    a = {k: v for k, v in _spec(new).items() if k not in STS_MUTABLE}
    b = {k: v for k, v in _spec(old).items() if k not in STS_MUTABLE}
    return [] if a == b else [forbidden("spec", STS_UPDATE_MESSAGE)]


# -- batch --------------------------------------------------------------------------------
def validate_job(obj: Obj) -> list[FieldError]:
    return validate_job_spec(_spec(obj), "spec")


def validate_job_spec(spec: Obj, p: str, selected: bool = True) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"):
        errs += nonnegative(spec, key, p)
    ads = spec.get("activeDeadlineSeconds")
    if isinstance(ads, int) and ads <= 0:
        errs.append(invalid(f"{p}.activeDeadlineSeconds", ads, "must be greater than 0"))
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        errs.append(not_supported(f"{p}.completionMode", mode, ("NonIndexed", "Indexed")))
    if mode == "Indexed" and spec.get("completions") is None:
        errs.append(required(f"{p}.completions", "when completion mode is Indexed"))
    if spec.get("selector") is None and selected:
        errs.append(required(f"{p}.selector"))
    else:
        errs += meta.validate_label_selector(spec.get("selector"), f"{p}.selector")
    return errs + validate_template(spec, p, ("OnFailure", "Never"), replicated=False,
                                    selected=selected)


def validate_job_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = immutable_selector(new, old)
    sn, so = _spec(new), _spec(old)
    if sn.get("template") != so.get("template") and not so.get("suspend"):
        errs.append(invalid("spec.template", GoValue("core.PodTemplateSpec{...}"),
                            "field is immutable"))
    if sn.get("completions") != so.get("completions") and sn.get("completionMode") != "Indexed":
        errs.append(invalid("spec.completions", sn.get("completions"), "field is immutable"))
    return errs


_CRON_FIELD = re.compile(r"^(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?"
                         r"(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?)*$")


def cron_problem(schedule: str) -> str | None:
    text = schedule.strip()
    if text.startswith("@"):
        ok = text in ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                      "@hourly") or text.startswith("@every ")
        return None if ok else f"unrecognized descriptor: {text}"
    if text.startswith(("TZ=", "CRON_TZ=")):
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    parts = text.split()
    if len(parts) != 5:
        return f"expected exactly 5 fields, found {len(parts)}: {text}"
    for part in parts:
        if not _CRON_FIELD.match(part):
            return f"failed to parse int from {part}: strconv.Atoi: parsing \"{part}\": invalid syntax"
    return None


def validate_cronjob(obj: Obj) -> list[FieldError]:
    spec = _spec(obj)
    errs: list[FieldError] = []
    schedule = spec.get("schedule")
    if not schedule:
        errs.append(required("spec.schedule"))
    else:
        problem = cron_problem(str(schedule))
        if problem:
            errs.append(invalid("spec.schedule", schedule, problem))
    policy = spec.get("concurrencyPolicy")
    if policy is not None and policy not in ("Allow", "Forbid", "Replace"):
        errs.append(not_supported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace")))
    for key in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errs += nonnegative(spec, key, "spec")
    jt = spec.get("jobTemplate")
    if not isinstance(jt, dict):
        return errs + [required("spec.jobTemplate")]
    jspec = js if isinstance(js := jt.get("spec"), dict) else {}
    # the job template has no selector: each Job the CronJob starts gets its own
    return errs + validate_job_spec(jspec, "spec.jobTemplate.spec", selected=False)
