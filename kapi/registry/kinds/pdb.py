"""PodDisruptionBudgets: generation tracking (the disruption controller reports the
generation it saw) and the status fields Go always writes."""

from __future__ import annotations

from kapi.meta.resources import status_of
from kapi.printers import policy as policy_printers
from kapi.registry.kinds.base import Strategy, row

PDBS = Strategy(
    row("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", "io.k8s.api.policy.v1",
        short_names=("pdb",), subresources=(status_of("PodDisruptionBudget"),)),
    printer=policy_printers.PDB, tracks_generation=True,
    initial_status={"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0,
                    "expectedPods": 0})
