"""networking.k8s.io/v1 kinds: Ingresses (with a status subresource), IngressClasses,
NetworkPolicies, ServiceCIDRs and IPAddresses.

They are stored and served with upstream's defaults, validation and printers. No
controller serves an Ingress and nothing enforces a NetworkPolicy (README says so);
kapi's Service allocator does not read ServiceCIDRs or write IPAddresses.
"""

from __future__ import annotations

from kapi.defaulting import cluster as defaults
from kapi.meta.resources import status_of
from kapi.printers import networking as printers
from kapi.registry.kinds.base import Strategy, row
from kapi.validation import networking as rules

NETWORKING = "io.k8s.api.networking.v1"

INGRESSES = Strategy(
    row("networking.k8s.io", "v1", "ingresses", "Ingress", NETWORKING, short_names=("ing",),
        subresources=(status_of("Ingress"),)),
    printer=printers.INGRESS, validate_rule=rules.ingress, tracks_generation=True,
    status_may_change_meta=True)

INGRESS_CLASSES = Strategy(
    row("networking.k8s.io", "v1", "ingressclasses", "IngressClass", NETWORKING,
        namespaced=False),
    printer=printers.INGRESS_CLASS, defaulter=defaults.ingress_class,
    validate_rule=rules.ingress_class, update_rule=rules.ingress_class_update)

NETWORK_POLICIES = Strategy(
    row("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", NETWORKING,
        short_names=("netpol",)),
    printer=printers.NETWORK_POLICY, defaulter=defaults.network_policy,
    validate_rule=rules.network_policy, tracks_generation=True)

SERVICE_CIDRS = Strategy(
    row("networking.k8s.io", "v1", "servicecidrs", "ServiceCIDR", NETWORKING, namespaced=False,
        subresources=(status_of("ServiceCIDR"),)),
    printer=printers.SERVICE_CIDR, validate_rule=rules.service_cidr,
    update_rule=rules.service_cidr_update, status_may_change_meta=True)

IP_ADDRESSES = Strategy(
    row("networking.k8s.io", "v1", "ipaddresses", "IPAddress", NETWORKING, namespaced=False,
        short_names=("ip",)),
    printer=printers.IP_ADDRESS, validate_rule=rules.ip_address,
    update_rule=rules.ip_address_update, name_rule=rules.ip_address_name)
