"""authorization.k8s.io/v1 access reviews: create-only kinds that are never stored
(kapi.endpoints.accessreview answers them from the authorizer)."""

from __future__ import annotations

from kapi.registry.kinds.base import Strategy, row

AUTHZ = "io.k8s.api.authorization.v1"
GROUP = "authorization.k8s.io"
CREATE = ("create",)

SUBJECT_ACCESS_REVIEWS = Strategy(row(GROUP, "v1", "subjectaccessreviews", "SubjectAccessReview",
                                      AUTHZ, namespaced=False, verbs=CREATE))
LOCAL_SUBJECT_ACCESS_REVIEWS = Strategy(row(
    GROUP, "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", AUTHZ, verbs=CREATE))
SELF_SUBJECT_ACCESS_REVIEWS = Strategy(row(
    GROUP, "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", AUTHZ,
    namespaced=False, verbs=CREATE))
SELF_SUBJECT_RULES_REVIEWS = Strategy(row(
    GROUP, "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", AUTHZ,
    namespaced=False, verbs=CREATE))
REVIEWS = (SUBJECT_ACCESS_REVIEWS, LOCAL_SUBJECT_ACCESS_REVIEWS, SELF_SUBJECT_ACCESS_REVIEWS,
           SELF_SUBJECT_RULES_REVIEWS)
