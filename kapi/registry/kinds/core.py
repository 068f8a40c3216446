"""core/v1 kinds with no rules of their own beyond defaults: service accounts,
persistent volume claims, limit ranges and resource quotas."""

from __future__ import annotations

from kapi.defaulting import workloads as defaults
from kapi.defaulting.limitrange import limit_range
from kapi.meta.resources import Subresource, status_of
from kapi.printers import core as core_printers
from kapi.registry.kinds.base import CORE, Strategy, row

SERVICE_ACCOUNTS = Strategy(
    row("", "v1", "serviceaccounts", "ServiceAccount", CORE, short_names=("sa",),
        subresources=(Subresource("token", "TokenRequest", "authentication.k8s.io", "v1",
                                  verbs=("create",)),)),
    printer=core_printers.SERVICE_ACCOUNT, return_deleted_object=True)

PVCS = Strategy(
    row("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", CORE,
        short_names=("pvc",), subresources=(status_of("PersistentVolumeClaim"),)),
    printer=core_printers.PVC, defaulter=defaults.pvc, initial_status={"phase": "Pending"},
    return_deleted_object=True)

LIMIT_RANGES = Strategy(
    row("", "v1", "limitranges", "LimitRange", CORE, short_names=("limits",)),
    defaulter=limit_range)

RESOURCE_QUOTAS = Strategy(
    row("", "v1", "resourcequotas", "ResourceQuota", CORE, short_names=("quota",),
        subresources=(status_of("ResourceQuota"),)),
    printer=core_printers.RESOURCE_QUOTA, return_deleted_object=True)
