"""Serving the OpenAPI documents: /openapi/v2 (JSON or gnostic protobuf) and
/openapi/v3[/api/v1|/apis/G/V]. kapi.openapi.documents builds each document once; this
module only picks one by path and Accept, and answers If-None-Match with 304.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kapi import errors
from kapi.meta.resources import Scheme
from kapi.openapi import v2
from kapi.openapi.aggregated import RemoteSpecs
from kapi.openapi.documents import OpenAPIDocs


class OpenAPIServer:
    def __init__(self, scheme: Scheme, definitions: Any,
                 remote: RemoteSpecs | None = None) -> None:
        self.docs = OpenAPIDocs(scheme, definitions, remote)

    def serve(self, request: Request, path: str) -> Response:
        name = path[len("/openapi/"):].strip("/")
        accept = request.headers.get("accept", "")
        ctype = "application/json"
        if name == "v2":
            if any(a in accept for a in v2.V2_PROTOBUF_ACCEPT):
                doc, ctype = self.docs.v2_protobuf(), v2.V2_PROTOBUF_CONTENT_TYPE
            else:
                doc = self.docs.v2()
        elif name == "v3":
            doc = self.docs.v3_root()
        elif name.startswith("v3/"):
            found = self.docs.v3(name[3:])
            if found is None:
                raise errors.NotFound("the server could not find the requested resource",
                                      details={})
            doc = found
        else:
            raise errors.NotFound("the server could not find the requested resource", details={})
        body, etag = doc
        headers = {"etag": etag, "vary": "Accept", "cache-control": "no-cache, private"}
        if name.startswith("v3/") and request.query_params.get("hash"):
            headers["cache-control"] = "public, immutable"
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, headers=headers | {"content-type": ctype})
