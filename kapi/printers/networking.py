"""networking.k8s.io/v1 printers: Ingresses, IngressClasses, NetworkPolicies, IPAddresses
and ServiceCIDRs, with upstream's columns and cells.

Must never: mutate objects, read the clock, or do I/O.
"""

from __future__ import annotations

from typing import Any

from kapi.printers.common import (
    AGE,
    NAME,
    Column,
    Ctx,
    Obj,
    Printer,
    age,
    format_label_selector,
    get,
    name,
)

INGRESS_COLUMNS = (
    NAME,
    Column("Class", "The name of the IngressClass resource that should be used for this "
                    "Ingress."),
    Column("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
    Column("Address", "Address is a list containing ingress points for the load-balancer"),
    Column("Ports", "Ports of TLS configurations that open"),
    AGE,
)


def format_hosts(rules: list[Any] | None) -> str:
    """formatHosts: the first four hosts, "*" when no rule names one."""
    hosts = [r["host"] for r in rules or () if isinstance(r, dict) and r.get("host")]
    shown = ",".join(hosts[:4])
    if len(hosts) > 4:
        shown += f" + {len(hosts) - 4} more..."
    return shown or "*"


def _addresses(ing: Obj) -> str:
    out = []
    for lb in get(ing, "status", "loadBalancer", "ingress", default=[]):
        if isinstance(lb, dict):
            out.append(lb.get("ip") or lb.get("hostname") or "")
    return ",".join(a for a in out if a)


def ingress_row(ing: Obj, ctx: Ctx) -> list[Any]:
    ports = "80, 443" if get(ing, "spec", "tls") else "80"
    return [name(ing), get(ing, "spec", "ingressClassName") or "<none>",
            format_hosts(get(ing, "spec", "rules")), _addresses(ing), ports, age(ing, ctx)]


INGRESS_CLASS_COLUMNS = (
    NAME,
    Column("Controller", "Controller that is responsible for handling this class"),
    Column("Parameters", "A reference to a resource with additional parameters"),
    AGE,
)


def ingress_class_row(ic: Obj, ctx: Ctx) -> list[Any]:
    params = get(ic, "spec", "parameters")
    shown = "<none>"
    if isinstance(params, dict):
        shown = params.get("kind", "")
        if params.get("apiGroup"):
            shown += "." + params["apiGroup"]
        shown += "/" + params.get("name", "")
    return [name(ic), get(ic, "spec", "controller", default=""), shown, age(ic, ctx)]


NETWORK_POLICY_COLUMNS = (
    NAME,
    Column("Pod-Selector", "Selects the pods to which this NetworkPolicy object applies."),
    AGE,
)


def network_policy_row(np: Obj, ctx: Ctx) -> list[Any]:
    return [name(np), format_label_selector(get(np, "spec", "podSelector")), age(np, ctx)]


SERVICE_CIDR_COLUMNS = (
    NAME,
    Column("CIDRs", "CIDRs defines the IP blocks in CIDR notation (e.g. \"192.168.0.0/24\" or "
                    "\"2001:db8::/64\") from which to assign service cluster IPs."),
    AGE,
)


def service_cidr_row(sc: Obj, ctx: Ctx) -> list[Any]:
    return [name(sc), ",".join(get(sc, "spec", "cidrs", default=[])) or "<none>", age(sc, ctx)]


IP_ADDRESS_COLUMNS = (
    NAME,
    Column("ParentRef", "ParentRef references the resource that an IPAddress is attached to."),
)


def ip_address_row(ip: Obj, ctx: Ctx) -> list[Any]:
    ref = get(ip, "spec", "parentRef") or {}
    group = ref.get("group") or ""
    kind = ref.get("resource", "") + ("." + group if group else "")
    shown = f"{kind}/{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else "<none>"
    return [name(ip), shown]


INGRESS = Printer(INGRESS_COLUMNS, ingress_row)
INGRESS_CLASS = Printer(INGRESS_CLASS_COLUMNS, ingress_class_row)
NETWORK_POLICY = Printer(NETWORK_POLICY_COLUMNS, network_policy_row)
SERVICE_CIDR = Printer(SERVICE_CIDR_COLUMNS, service_cidr_row)
IP_ADDRESS = Printer(IP_ADDRESS_COLUMNS, ip_address_row)
