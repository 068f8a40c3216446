"""authentication.k8s.io/v1: TokenReview, a create-only kind that is never stored (the
app answers it: kapi/endpoints/tokens.py). TokenRequest is serviceaccounts/token
(kapi/registry/kinds/core.py)."""

from __future__ import annotations

from kapi.registry.kinds.base import Strategy, row

TOKEN_REVIEWS = Strategy(
    row("authentication.k8s.io", "v1", "tokenreviews", "TokenReview",
        "io.k8s.api.authentication.v1", namespaced=False, verbs=("create",)))
