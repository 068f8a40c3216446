"""EndpointSlices (discovery.k8s.io/v1): no rules of their own yet."""

from __future__ import annotations

from kapi.printers import discovery as discovery_printers
from kapi.registry.kinds.base import Strategy, row

ENDPOINT_SLICES = Strategy(
    row("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", "io.k8s.api.discovery.v1"),
    printer=discovery_printers.ENDPOINT_SLICE)
