"""The OpenAPI documents kubectl and client libraries download.

paths      the REST operations kapi serves, described once (no rendering, no HTTP)
v2         the Swagger 2.0 document (/openapi/v2)
v3         the OpenAPI 3.0 root and per group/version documents (/openapi/v3[/<key>])
protobuf   the v2 document as gnostic's protobuf message (what kubectl asks for)
documents  OpenAPIDocs: each document built once, kept as bytes with its ETag
serving    picks a document by path and Accept and answers If-None-Match (the only HTTP)
"""
