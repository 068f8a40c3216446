"""The aggregated servers' part of kapi's OpenAPI documents (upstream's kube-aggregator
merges them the same way): their /openapi/v2 paths under each aggregated
group/version and the definitions those need join kapi's /openapi/v2, and their
/openapi/v3 document of that group/version is served as `apis/GROUP/VERSION` and
listed in kapi's /openapi/v3 root.

Owns the merge rules only: a definition kapi already has keeps kapi's schema (an
aggregated server may not redefine a built-in kind); paths outside the APIService's own
group/version are not taken. Pure: who fetches the documents (kapi.endpoints.
aggregated_specs) hands them over through the RemoteSpecs protocol.
"""

from __future__ import annotations

from typing import Any, Protocol

Doc = dict[str, Any]


class RemoteSpecs(Protocol):
    """What the aggregator knows of its servers' OpenAPI documents."""

    def v2_parts(self) -> list[tuple[str, Doc]]:
        """(group/version, that server's /openapi/v2 document) for each APIService."""
        ...

    def v3_docs(self) -> dict[str, Doc]:
        """`apis/GROUP/VERSION` -> that server's /openapi/v3 document of it."""
        ...


def merge_v2(doc: Doc, parts: list[tuple[str, Doc]]) -> Doc:
    """kapi's v2 document with each aggregated server's paths and definitions added."""
    if not parts:
        return doc
    paths, definitions = dict(doc.get("paths") or {}), dict(doc.get("definitions") or {})
    for gv, remote in parts:
        prefix = f"/apis/{gv}"
        for path, item in (remote.get("paths") or {}).items():
            if (path == prefix or path.startswith(prefix + "/")) and path not in paths:
                paths[path] = item
        for name, schema in (remote.get("definitions") or {}).items():
            definitions.setdefault(name, schema)
    return dict(doc, paths=paths, definitions=definitions)
