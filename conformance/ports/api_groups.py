"""What upstream's "should support <Kind> API operations" tests share: the three
discovery checks (/apis lists the group and version, /apis/<group> lists the version,
/apis/<group>/<version> lists the resources) and waiting on a watch for an event that
satisfies a condition (upstream's select loop over ResultChan with ForeverTestTimeout).
"""

from __future__ import annotations

from typing import Any, Callable

from kubernetes import client

from conformance.framework import Ctx
from conformance.ports.apimachinery_discovery import get_json
from conformance.watching import Watch

FOREVER = 30  # wait.ForeverTestTimeout


def check_discovery(c: Ctx, group: str, version: str, *resources: str) -> None:
    groups = get_json(c, "/apis")["groups"]
    found = any(g["name"] == group and any(v["version"] == version for v in g["versions"])
                for g in groups)
    assert found, f"expected {group} API group/version, got {[g['name'] for g in groups]}"
    versions = [v["version"] for v in get_json(c, f"/apis/{group}")["versions"]]
    assert version in versions, f"expected {group} API version, got {versions}"
    served = {r["name"] for r in get_json(c, f"/apis/{group}/{version}")["resources"]}
    for name in resources:
        assert name in served, f"expected {name}, got {sorted(served)}"


def wait_event(w: Watch, seen: Callable[[str, Any], bool], what: str,
               timeout: float = FOREVER) -> None:
    """Read events until seen(type, object) is true; fail after timeout of silence."""
    while True:
        ev = w.next(timeout)
        if ev is None:
            raise AssertionError(f"timed out waiting for watch event: {what}")
        if seen(*ev):
            return


def annotations(obj: Any) -> dict[str, str]:
    return dict(obj.metadata.annotations or {})


# the typed clients of the groups these ports exercise (Ctx offers the core ones)
def node(c: Ctx) -> client.NodeV1Api:
    return client.NodeV1Api(c.api)


def scheduling(c: Ctx) -> client.SchedulingV1Api:
    return client.SchedulingV1Api(c.api)


def storage(c: Ctx) -> client.StorageV1Api:
    return client.StorageV1Api(c.api)


def networking(c: Ctx) -> client.NetworkingV1Api:
    return client.NetworkingV1Api(c.api)


def certificates(c: Ctx) -> client.CertificatesV1Api:
    return client.CertificatesV1Api(c.api)


def flowcontrol(c: Ctx) -> client.FlowcontrolApiserverV1Api:
    return client.FlowcontrolApiserverV1Api(c.api)


def events(c: Ctx) -> client.EventsV1Api:
    return client.EventsV1Api(c.api)


def expect_patched_modified(w: Watch, timeout: float = FOREVER) -> None:
    """upstream's loop: every event is MODIFIED; wait for one carrying patched=true."""
    def seen(etype: str, obj: Any) -> bool:
        assert etype == "MODIFIED", f"expected a MODIFIED event, got {etype}"
        return annotations(obj).get("patched") == "true"
    wait_event(w, seen, "the patched annotation", timeout)


def rv_newer(old: Any, new: Any) -> bool:
    """resourceversion.CompareResourceVersion(old, new) == -1."""
    return int(new.metadata.resource_version) > int(old.metadata.resource_version)


def condition(obj: Any, ctype: str) -> Any:
    for c in (obj.status.conditions if obj.status else None) or ():
        if c.type == ctype:
            return c
    return None
