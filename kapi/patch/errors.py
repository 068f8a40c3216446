"""The one error every patch flavour raises.

Owns: PatchError, carrying a message and the HTTP status upstream answers with (400 for
a malformed patch, 422 when a well-formed JSON patch cannot be applied, 413 for too many
operations). It must never import from the rest of kapi: handlers translate it into a
Status response.
"""

from __future__ import annotations


class PatchError(ValueError):
    """A patch that is malformed or cannot be applied to the object."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message
