"""The static token file (`--token-auth-file`), upstream's CSV: token,user,uid,"g1,g2".

An Authenticator: a request whose bearer token is in the file is that user (in
system:authenticated besides its own groups); any other request is left to the next
authenticator. The file is read once, at start, as upstream reads it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from starlette.requests import HTTPConnection

from kapi.auth import User

AUTHENTICATED = "system:authenticated"


def bearer_token(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def parse(text: str, source: str = "token file") -> dict[str, User]:
    users: dict[str, User] = {}
    for n, record in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not record or not "".join(record).strip() or record[0].startswith("#"):
            continue
        if len(record) < 3:
            raise ValueError(f"token file '{source}' must have at least 3 columns (token, "
                             f"user name, user uid), found {len(record)} (line {n})")
        token, name, uid = (f.strip() for f in record[:3])
        if not token:
            continue
        groups = tuple(g.strip() for g in record[3].split(",") if g.strip()) \
            if len(record) > 3 else ()
        if AUTHENTICATED not in groups:
            groups += (AUTHENTICATED,)
        users[token] = User(name, groups, uid)
    return users


class TokenFile:
    def __init__(self, users: dict[str, User]) -> None:
        self.users = users

    @classmethod
    def load(cls, path: Path) -> TokenFile:
        return cls(parse(path.read_text(), str(path)))

    async def __call__(self, request: HTTPConnection) -> User | None:
        token = bearer_token(request)
        return self.users.get(token) if token else None
