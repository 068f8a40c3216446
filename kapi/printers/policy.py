"""policy/v1 printers: PodDisruptionBudgets (MIN AVAILABLE, MAX UNAVAILABLE, ALLOWED DISRUPTIONS).

Must never: mutate objects, read the clock, or do I/O.
"""

from __future__ import annotations

from typing import Any

from kapi.printers.common import AGE, NAME, Column, Ctx, Obj, Printer, age, get, integer, name

COLUMNS = (
    NAME,
    Column("Min Available", "The minimum number of pods that must be available."),
    Column("Max Unavailable", "The maximum number of pods that may be unavailable."),
    Column("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time.",
           type="integer"),
    AGE,
)


def _int_or_string(v: Any) -> str:
    """intstr.IntOrString.String(); "N/A" when the field is unset."""
    return "N/A" if v is None else str(v)


def pdb_row(pdb: Obj, ctx: Ctx) -> list[Any]:
    return [name(pdb), _int_or_string(get(pdb, "spec", "minAvailable")),
            _int_or_string(get(pdb, "spec", "maxUnavailable")),
            integer(pdb, "status", "disruptionsAllowed"), age(pdb, ctx)]


PDB = Printer(COLUMNS, pdb_row)
