"""A StatefulSet's pod identities and storage: ordinals, names, the identity labels,
hostname/subdomain, per-ordinal PersistentVolumeClaims and their retention-policy
owner references (upstream stateful_set_utils.go).

Pure functions over dicts. Must never do I/O or mutate inputs; new objects are copies.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Mapping

from runtime.controllers.common.revisions import REVISION_HASH_LABEL
from runtime.util.meta import labels_of, meta
from runtime.util.pods import pod_from_template

Obj = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
_POD_NAME = re.compile(r"^(.*)-([0-9]+)$")


# -- ordinals -------------------------------------------------------------------------------
def parent_and_ordinal(pod_name: str) -> tuple[str, int]:
    """("web", 2) for "web-2"; ("", -1) when the name carries no ordinal."""
    m = _POD_NAME.match(pod_name)
    if not m:
        return "", -1
    return m.group(1), int(m.group(2))


def ordinal_of(pod: Mapping[str, Any]) -> int:
    return parent_and_ordinal(meta(pod).get("name", ""))[1]


def start_ordinal(sts: Mapping[str, Any]) -> int:
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def replicas_of(sts: Mapping[str, Any]) -> int:
    r = (sts.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def in_ordinal_range(sts: Mapping[str, Any], ordinal: int) -> bool:
    start = start_ordinal(sts)
    return start <= ordinal < start + replicas_of(sts)


def is_member(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    parent, ordinal = parent_and_ordinal(meta(pod).get("name", ""))
    return ordinal >= 0 and parent == meta(sts)["name"]


def pod_name(sts: Mapping[str, Any], ordinal: int) -> str:
    return f"{meta(sts)['name']}-{ordinal}"


def claim_name(sts: Mapping[str, Any], template_name: str, ordinal: int) -> str:
    return f"{template_name}-{meta(sts)['name']}-{ordinal}"


def pod_revision(pod: Mapping[str, Any]) -> str:
    return str(labels_of(pod).get(REVISION_HASH_LABEL) or "")


# -- identity -------------------------------------------------------------------------------
def identity_labels(sts: Mapping[str, Any], ordinal: int) -> dict[str, str]:
    return {POD_NAME_LABEL: pod_name(sts, ordinal), POD_INDEX_LABEL: str(ordinal)}


def identity_matches(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    ordinal = ordinal_of(pod)
    labels = labels_of(pod)
    return (is_member(sts, pod) and meta(pod).get("namespace") == meta(sts).get("namespace")
            and all(labels.get(k) == v for k, v in identity_labels(sts, ordinal).items()))


def claim_templates(sts: Mapping[str, Any]) -> list[Obj]:
    return list((sts.get("spec") or {}).get("volumeClaimTemplates") or [])


def _with_claim_volumes(sts: Mapping[str, Any], spec: Obj, ordinal: int) -> None:
    claims = {(t.get("metadata") or {}).get("name", ""): claim_name(
        sts, (t.get("metadata") or {}).get("name", ""), ordinal) for t in claim_templates(sts)}
    if not claims:
        return
    volumes = [{"name": n, "persistentVolumeClaim": {"claimName": c}} for n, c in claims.items()]
    volumes += [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
    spec["volumes"] = volumes


def new_pod(sts: Mapping[str, Any], ordinal: int, revision_name: str, owner_ref: Obj) -> Obj:
    """The pod for ordinal from sts's template (pass the set as of the wanted revision)."""
    name = pod_name(sts, ordinal)
    pod = pod_from_template((sts.get("spec") or {}).get("template") or {}, owner_ref,
                            meta(sts).get("namespace", ""), name=name)
    labels = pod["metadata"].setdefault("labels", {})
    labels.update(identity_labels(sts, ordinal))
    labels[REVISION_HASH_LABEL] = revision_name
    pod["spec"]["hostname"] = name
    service = (sts.get("spec") or {}).get("serviceName")
    if service:
        pod["spec"]["subdomain"] = service
    _with_claim_volumes(sts, pod["spec"], ordinal)
    return pod


def identity_patch(sts: Mapping[str, Any], pod: Mapping[str, Any]) -> Obj:
    """A merge patch restoring the identity labels of an adopted or edited pod."""
    return {"metadata": {"labels": identity_labels(sts, ordinal_of(pod))}}


# -- claims ---------------------------------------------------------------------------------
def retention_policy(sts: Mapping[str, Any]) -> tuple[str, str]:
    """(whenDeleted, whenScaled), each Retain (the default) or Delete."""
    p = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return str(p.get("whenDeleted") or "Retain"), str(p.get("whenScaled") or "Retain")


def new_claims(sts: Mapping[str, Any], ordinal: int) -> list[Obj]:
    """The PVCs a pod at ordinal mounts, named <template>-<set>-<ordinal>."""
    selector_labels = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    out = []
    for t in claim_templates(sts):
        tmeta = t.get("metadata") or {}
        md: Obj = {"name": claim_name(sts, tmeta.get("name", ""), ordinal),
                   "namespace": meta(sts).get("namespace"),
                   "labels": {**(tmeta.get("labels") or {}), **selector_labels}}
        if tmeta.get("annotations"):
            md["annotations"] = dict(tmeta["annotations"])
        out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": md,
                    "spec": copy.deepcopy(t.get("spec") or {})})
    return out


def wanted_claim_owners(sts: Mapping[str, Any], pod: Mapping[str, Any] | None,
                        set_ref: Obj, pod_ref: Obj | None) -> list[Obj]:
    """The owner references a claim should carry under the retention policy: the set's
    when deleting the set deletes claims, the pod's when a scaled-down pod's claim goes."""
    when_deleted, when_scaled = retention_policy(sts)
    scaled_down = pod is not None and not in_ordinal_range(sts, ordinal_of(pod))
    refs: list[Obj] = []
    if when_deleted == "Delete" and not (when_scaled == "Delete" and scaled_down):
        refs.append(set_ref)
    if when_scaled == "Delete" and scaled_down and pod_ref is not None:
        refs.append(pod_ref)
    return refs


def claim_owner_patch(claim: Mapping[str, Any], owners: list[Obj],
                      ours: set[str]) -> list[Obj] | None:
    """The claim's new ownerReferences (keeping others' refs), or None if unchanged."""
    current = list(meta(claim).get("ownerReferences") or [])
    kept = [r for r in current if r.get("uid") not in ours]
    new = kept + owners
    same = sorted(r.get("uid", "") for r in current) == sorted(r.get("uid", "") for r in new)
    return None if same else new
