"""RBAC: Roles, ClusterRoles and their bindings decide who may do what.

rules.py matches one request against PolicyRules (pure); index.py keeps the policy
objects indexed by subject, fed by watch events; authorizer.py answers Authorize and
the access reviews from it; escalation.py refuses writes that grant what the writer
does not hold; bootstrap.py holds upstream's default policy (the YAML files here) and
reconciles it at start.

Nothing here imports storage or the handlers: objects arrive as plain dicts through
PolicyIndex.apply, and writes (bootstrap) go through an injected store.
"""
