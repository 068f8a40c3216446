"""What upstream's "should support <Kind> API operations" tests share: the three
discovery checks (/apis lists the group and version, /apis/<group> lists the version,
/apis/<group>/<version> lists the resources), waiting on a watch for an event that
satisfies a condition (upstream's select loop over ResultChan with ForeverTestTimeout),
and the steps every such test repeats on one resource through its typed client (`Calls`):
annotate by patch and update and see it on a watch; delete one, then the collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from conformance.framework import Ctx, expect_api_error
from conformance.ports.apimachinery_discovery import get_json
from conformance.ports.apps_common import retry_on_conflict
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


@dataclass(frozen=True)
class Calls:
    """One resource's typed-client calls, bound to a namespace when it has one."""

    read: Callable[..., Any]
    patch: Callable[..., Any]
    replace: Callable[..., Any]
    delete: Callable[..., Any]
    list: Callable[..., Any]
    delete_collection: Callable[..., Any]
    watch_list: Callable[..., Any]  # the unbound list call a Watch takes
    model: str
    namespace: tuple[str, ...] = ()

    def watch(self, c: Ctx, **kw: Any) -> Watch:
        return Watch(c.api, self.watch_list, self.model, *self.namespace, **kw)


def calls_of(api: Any, kind: str, model: str, namespace: str | None = None) -> Calls:
    """The calls of `kind` (snake case, e.g. "ingress_class") on a typed client."""
    scope = "namespaced_" if namespace else ""
    ns = (namespace,) if namespace else ()

    def bind(verb: str) -> Callable[..., Any]:
        fn = getattr(api, f"{verb}_{scope}{kind}")
        if not namespace:
            return fn  # type: ignore[no-any-return]
        if verb in ("list", "delete_collection"):
            return partial(fn, namespace)
        return lambda name, *rest, **kw: fn(name, namespace, *rest, **kw)
    return Calls(bind("read"), bind("patch"), bind("replace"), bind("delete"), bind("list"),
                 bind("delete_collection"), getattr(api, f"list_{scope}{kind}"), model, ns)


def added_or_annotated(w: Watch) -> None:
    """The looser loop of some tests: the first ADDED event, or a MODIFIED one carrying
    the patched or updated annotation, ends the wait."""
    wait_event(w, lambda t, o: t == "ADDED" or (t == "MODIFIED" and (
        annotations(o).get("patched") == "true" or annotations(o).get("updated") == "true")),
        "an added or annotated object")


def annotate_and_watch(calls: Calls, name: str, watches: Watch | list[Watch],
                       spec_patch: Any = None, spec_update: Callable[[Any], None] | None = None,
                       wait: Callable[[Watch], None] = expect_patched_modified
                       ) -> tuple[Any, Any]:
    """Patch patched=true (with spec_patch merged in), update updated=true (applying
    spec_update), check both answers, then `wait` on each watch; stops the watches.
    Returns (patched, updated)."""
    watches = watches if isinstance(watches, list) else [watches]
    try:
        patched = calls.patch(name, {"metadata": {"annotations": {"patched": "true"}},
                                     **(spec_patch or {})})
        assert annotations(patched).get("patched") == "true", \
            "patched object should have the applied annotation"

        def update() -> Any:
            obj = calls.read(name)
            obj.metadata.annotations["updated"] = "true"
            if spec_update is not None:
                spec_update(obj)
            return calls.replace(name, obj)
        updated = retry_on_conflict(update)
        assert annotations(updated).get("updated") == "true", \
            "updated object should have the applied annotation"
        for w in watches:
            wait(w)
    finally:
        for w in watches:
            w.stop()
    return patched, updated


def delete_then_collection(calls: Calls, name: str, **selector: str) -> None:
    """Delete one (then 404, two left), then the collection (none left)."""
    calls.delete(name)
    expect_api_error(lambda: calls.read(name), 404)
    left = calls.list(**selector).items
    assert len(left) == 2, "filtered list should have 2 items"
    assert all(o.metadata.name != name for o in left), "the deleted object is still listed"
    calls.delete_collection(**selector)
    assert not calls.list(**selector).items, "filtered list should have 0 items"


def relabel(calls: Calls, name: str, labels: dict[str, str], merge: bool = False) -> Any:
    """Update the object's labels (set, or merged into its own), retrying on conflict."""
    def update() -> Any:
        obj = calls.read(name)
        obj.metadata.labels = {**(obj.metadata.labels or {}), **labels} if merge else labels
        return calls.replace(name, obj)
    return retry_on_conflict(update)


def three_listed_then_watch(c: Ctx, calls: Calls, created: Any, selector: str,
                            all_namespaces: Callable[..., Any] | None = None) -> Watch:
    """Get the last of three created objects, list the three (also across namespaces when
    given that list call, opening a watch there too), and open the watch the test reads,
    from the list's resourceVersion."""
    assert calls.read(created.metadata.name).metadata.uid == created.metadata.uid
    listed = calls.list(label_selector=selector)
    assert len(listed.items) == 3, "filtered list should have 3 items"
    rv = listed.metadata.resource_version
    w = calls.watch(c, label_selector=selector, resource_version=rv)
    if all_namespaces is not None:
        assert len(all_namespaces(label_selector=selector).items) == 3, \
            "filtered list should have 3 items"
        Watch(c.api, all_namespaces, calls.model, label_selector=selector,
              resource_version=rv).stop()
    return w
