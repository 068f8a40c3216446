"""discovery.k8s.io/v1 printers: EndpointSlices (ADDRESSTYPE, PORTS, ENDPOINTS).

Must never: mutate objects, read the clock, or do I/O.
"""

from __future__ import annotations

from typing import Any

from kapi.printers import common
from kapi.printers.common import AGE, NAME, Column, Ctx, Obj, Printer, age, get, name

COLUMNS = (
    NAME,
    Column("AddressType", "addressType specifies the type of address carried by this "
                          "EndpointSlice."),
    Column("Ports", "ports specifies the list of network ports exposed by each endpoint in this "
                    "slice."),
    Column("Endpoints", "endpoints is a list of unique endpoints in this slice."),
    AGE,
)


def format_ports(slice_: Obj) -> str:
    ports = slice_.get("ports") or []
    shown = []
    for p in ports:
        if p.get("port") is not None:
            shown.append(str(p["port"]))
        else:
            shown.append(p["name"] if p.get("name") is not None else "*")
    return common.list_with_more(shown, len(ports))


def format_endpoints(slice_: Obj) -> str:
    addresses = [a for ep in slice_.get("endpoints") or [] for a in ep.get("addresses") or []]
    return common.list_with_more(addresses, len(addresses))


def endpoint_slice_row(s: Obj, ctx: Ctx) -> list[Any]:
    return [name(s), get(s, "addressType", default=""), format_ports(s), format_endpoints(s),
            age(s, ctx)]


ENDPOINT_SLICE = Printer(COLUMNS, endpoint_slice_row)
