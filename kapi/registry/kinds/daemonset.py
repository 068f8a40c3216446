"""DaemonSets: what apps kinds share (see apps.py) plus the
deprecated.daemonset.template.generation annotation upstream's strategy keeps (the
controller labels pods with it)."""

from __future__ import annotations

from kapi.defaulting import workloads as defaults
from kapi.meta.resources import status_of
from kapi.printers import apps as apps_printers
from kapi.registry.kinds.apps import APPS
from kapi.registry.kinds.base import ALL, Obj, Strategy, row
from kapi.validation import workloads as rules

TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


class DaemonSetStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION] = "1"

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        old_tpl = (old.get("spec") or {}).get("template")
        if (new.get("spec") or {}).get("template") != old_tpl:
            gen = str(new["metadata"].get("generation", 1))
            new["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION] = gen
        else:
            value = (old["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION)
            if value is not None:
                new["metadata"].setdefault("annotations", {})[TEMPLATE_GENERATION] = value


DAEMON_SETS = DaemonSetStrategy(
    row("apps", "v1", "daemonsets", "DaemonSet", APPS, short_names=("ds",), categories=ALL,
        subresources=(status_of("DaemonSet"),)),
    printer=apps_printers.DAEMON_SET, tracks_generation=True, status_may_change_meta=True,
    initial_status={"currentNumberScheduled": 0, "numberMisscheduled": 0,
                    "desiredNumberScheduled": 0, "numberReady": 0},
    defaulter=defaults.daemonset, validate_rule=rules.validate_daemonset,
    update_rule=rules.immutable_selector)
