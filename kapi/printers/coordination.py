"""coordination.k8s.io/v1 printers: Leases (NAME, HOLDER, AGE).

Must never: mutate objects, read the clock, or do I/O.
"""

from __future__ import annotations

from typing import Any

from kapi.printers.common import AGE, NAME, Column, Ctx, Obj, Printer, age, get, name

COLUMNS = (NAME, Column("Holder", "holderIdentity contains the identity of the holder of a "
                                  "current lease."), AGE)


def lease_row(lease: Obj, ctx: Ctx) -> list[Any]:
    return [name(lease), get(lease, "spec", "holderIdentity", default=""), age(lease, ctx)]


LEASE = Printer(COLUMNS, lease_row)
