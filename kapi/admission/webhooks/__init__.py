"""Dynamic admission webhooks: MutatingWebhookConfiguration and
ValidatingWebhookConfiguration objects name HTTPS endpoints that the API server asks
about each matching write, with an AdmissionReview v1.

matching.py decides which hooks a write concerns, review.py builds and checks the
exchange, client.py finds and reaches the endpoint, dispatch.py runs them as the
store's admission steps (mutating in order with reinvocation; validating in parallel).
"""
