"""Services: DNS-1035 label names (upstream's ValidateServiceName), defaults and rules,
an update's omitted clusterIP meaning "keep it", the empty loadBalancer status, and the
admission step that allocates cluster IPs and node ports.

Pure functions over dicts; allocation itself lives in kapi/admission/serviceips.py.
"""

from __future__ import annotations

from kapi.defaulting import workloads as defaults
from kapi.meta.resources import Subresource, status_of
from kapi.printers import core as core_printers
from kapi.registry.kinds.base import ALL, CORE, Obj, Strategy, row
from kapi.validation import core as core_rules
from kapi.validation import rules


class ServiceStrategy(Strategy):
    def normalize_update(self, new: Obj, old: Obj) -> Obj:
        return core_rules.normalize_service_update(new, old)


SERVICES = ServiceStrategy(
    row("", "v1", "services", "Service", CORE, short_names=("svc",), categories=ALL,
        subresources=(status_of("Service"), Subresource(
            "proxy", "ServiceProxyOptions",
            verbs=("create", "delete", "get", "patch", "update"))), field_selectors=("spec.clusterIP", "spec.type")),
    printer=core_printers.SERVICE, initial_status={"loadBalancer": {}},
    name_rule=rules.is_dns1035_label, defaulter=defaults.service,
    validate_rule=core_rules.validate_service, update_rule=core_rules.validate_service_update,
    admission=("ServiceIPs",), return_deleted_object=True,
    status_may_change_meta=True)  # upstream: a /status write resets only the spec
