"""Jobs: generation tracking, and on create (without manualSelector) a selector on the
Job's uid plus the template labels that select it, as upstream's job strategy sets them;
the defaults run again afterwards because upstream defaults the object it reads back,
so those labels become the Job's own."""

from __future__ import annotations

from kapi.defaulting import workloads as defaults
from kapi.meta.resources import status_of
from kapi.printers import batch as batch_printers
from kapi.registry.kinds.base import ALL, Obj, Strategy, row
from kapi.validation import workloads as rules

BATCH = "io.k8s.api.batch.v1"


class JobStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        spec = obj.get("spec")
        if isinstance(spec, dict) and not spec.get("manualSelector"):
            _select_own_pods(obj, spec)
        if self.defaulter is not None:
            self.defaulter(obj)


def _select_own_pods(obj: Obj, spec: Obj) -> None:
    meta = obj["metadata"]
    uid, name = meta.get("uid", ""), meta.get("name") or ""
    tpl = spec.setdefault("template", {})
    if not isinstance(tpl, dict):
        return
    labels = tpl.setdefault("metadata", {}).setdefault("labels", {})
    for key in ("job-name", "batch.kubernetes.io/job-name"):
        labels.setdefault(key, name)
    for key in ("controller-uid", "batch.kubernetes.io/controller-uid"):
        labels.setdefault(key, uid)
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = spec["selector"] = {}
    selector.setdefault("matchLabels", {}).setdefault("batch.kubernetes.io/controller-uid", uid)


JOBS = JobStrategy(
    row("batch", "v1", "jobs", "Job", BATCH, categories=ALL, subresources=(status_of("Job"),),
        field_selectors=("status.successful",)),
    printer=batch_printers.JOB, tracks_generation=True, defaulter=defaults.job,
    validate_rule=rules.validate_job, update_rule=rules.validate_job_update,
    status_may_change_meta=True)  # upstream: a /status write keeps only spec from old
