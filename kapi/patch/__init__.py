"""Applying the three PATCH flavours the API accepts to a decoded object.

Owns: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch
(driven by the upstream definitions' patch metadata). Every function returns a new object
and never mutates its inputs. Nothing here touches HTTP, storage or admission. Server-side
apply (application/apply-patch+yaml) is kapi.patch.apply; the managedFields it and every
other write keep are kapi.patch.managedfields.
"""

from kapi.patch.errors import PatchError
from kapi.patch.json_patch import apply_json_patch
from kapi.patch.merge_patch import apply_merge_patch
from kapi.patch.strategic import apply_strategic_merge_patch

__all__ = ["PatchError", "apply_json_patch", "apply_merge_patch", "apply_strategic_merge_patch"]
