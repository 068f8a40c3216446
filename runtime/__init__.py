"""kapi's components: every one is an API client that reaches the API server only over
HTTP (never kapi's storage or internals)."""
