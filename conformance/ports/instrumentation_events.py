"""Ports of test/e2e/instrumentation/core_events.go (core/v1 Events) and events.go
(events.k8s.io/v1 Events): create, list across namespaces and by field, patch, update the
series, compare what is read back, delete and delete by collection."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, poll
from conformance.ports.apimachinery_discovery import get_json
from conformance.ports.apps_common import SMP

CORE = "[sig-instrumentation] Events "
API = "[sig-instrumentation] Events API "
SERIES_TIME = dt.datetime.fromtimestamp(1505828956, dt.UTC)  # time.Unix(1505828956, 0)


def _core_event(c: Ctx, name: str, label: str, message: str) -> client.CoreV1Event:
    return client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=name, labels={label: "true"}), message=message,
        reason="Test", type="Normal", count=1,
        involved_object=client.V1ObjectReference(namespace=c.ns))


def _found(items: list[Any], ns: str, name: str) -> bool:
    return any(e.metadata.name == name and e.metadata.namespace == ns for e in items)


def _without_server_fields(obj: Any) -> Any:
    """A copy with resourceVersion and managedFields cleared, as upstream compares."""
    out = obj.model_copy(deep=True)
    out.metadata.resource_version = None
    out.metadata.managed_fields = None
    return out


@conformance(CORE + "should manage the lifecycle of an event [Conformance]", basename="events")
def core_event_lifecycle(c: Ctx) -> None:
    core, ns, name = c.core, c.ns, "event-test"
    core.create_namespaced_event(ns, _core_event(c, name, "testevent-constant",
                                                 "This is a test event"))
    listed = core.list_event_for_all_namespaces(label_selector="testevent-constant=true").items
    assert _found(listed, ns, name), f"unable to find test event {name} in namespace {ns}"
    patched_message = "This is a test event - patched"
    core.patch_namespaced_event(name, ns, {"message": patched_message}, _content_type=SMP)
    event = core.read_namespaced_event(name, ns)
    assert event.message == patched_message, "test event message does not match patch message"
    test_event = core.read_namespaced_event(name, ns)
    test_event.series = client.CoreV1EventSeries(count=100, last_observed_time=SERIES_TIME)
    test_event.metadata.resource_version = None
    test_event.metadata.managed_fields = None
    core.replace_namespaced_event(name, ns, test_event)
    event = _without_server_fields(core.read_namespaced_event(name, ns))
    assert event == test_event, f"test event wasn't properly updated: {event} != {test_event}"
    core.delete_namespaced_event(name, ns)
    listed = core.list_event_for_all_namespaces(label_selector="testevent-constant=true").items
    assert not _found(listed, ns, name), f"should not have found test event {name}"


@conformance(CORE + "should delete a collection of events [Conformance]", basename="events")
def core_event_collection(c: Ctx) -> None:
    core, ns = c.core, c.ns
    names = ["test-event-1", "test-event-2", "test-event-3"]
    for name in names:
        core.create_namespaced_event(ns, _core_event(c, name, "testevent-set", "This is " + name))
    listed = core.list_namespaced_event(ns, label_selector="testevent-set=true").items
    assert len(listed) == len(names), "looking for expected number of pod templates events"
    core.delete_collection_namespaced_event(ns, label_selector="testevent-set=true")
    poll(lambda: not core.list_namespaced_event(ns, label_selector="testevent-set=true").items,
         60, "no events left with the label", interval=1)


def _events_v1(ns: str, name: str, label: str) -> client.EventsV1Event:
    """newTestEvent: an events.k8s.io/v1 Event reported by test-controller."""
    return client.EventsV1Event(
        metadata=client.V1ObjectMeta(name=name, labels={label: "true"}),
        regarding=client.V1ObjectReference(namespace=ns),
        event_time=dt.datetime.now(dt.UTC), note="This is " + name, action="Do", reason="Test",
        type="Normal", reporting_controller="test-controller", reporting_instance="test-node")


def _in_list(c: Ctx, ns: str, name: str, all_namespaces: bool) -> bool:
    """Read as JSON: a core/v1 Event without eventTime (another test's, in another
    namespace) is an events.k8s.io Event the Python client's model refuses."""
    where = "" if all_namespaces else f"/namespaces/{ns}"
    items = get_json(c, f"/apis/events.k8s.io/v1{where}/events?labelSelector="
                        "testevent-constant%3Dtrue")["items"]
    return any(e["metadata"]["name"] == name and e["metadata"].get("namespace") == ns
               for e in items)


@conformance(API + "should ensure that an event can be fetched, patched, deleted, and listed "
             "[Conformance]", basename="events")
def events_api_lifecycle(c: Ctx) -> None:
    api, ns, name = client.EventsV1Api(c.api), c.ns, "event-test"
    api.create_namespaced_event(ns, _events_v1(ns, name, "testevent-constant"))
    assert _in_list(c, ns, name, True), "failed to find test event in list with cluster scope"
    assert _in_list(c, ns, name, False), \
        "failed to find test event in list with namespace scope"
    core_list = c.core.list_namespaced_event(ns, field_selector="source=test-controller").items
    assert [e.metadata.name for e in core_list] == [name], \
        f"expected single event, got {[e.metadata.name for e in core_list]}"
    v1_list = api.list_namespaced_event(ns, field_selector="reportingController=test-controller")
    assert [e.metadata.name for e in v1_list.items] == [name], "expected single event"
    test_event = api.read_namespaced_event(name, ns)
    patched_note = "This is a test event - patched"
    api.patch_namespaced_event(name, ns, {"note": patched_note}, _content_type=SMP)
    event = _without_server_fields(api.read_namespaced_event(name, ns))
    test_event = _without_server_fields(test_event)
    test_event.note = patched_note
    assert event == test_event, f"test event wasn't properly patched: {event} != {test_event}"
    test_event.series = client.EventsV1EventSeries(count=100, last_observed_time=SERIES_TIME)
    api.replace_namespaced_event(name, ns, test_event)
    event = _without_server_fields(api.read_namespaced_event(name, ns))
    assert event == test_event, f"test event wasn't properly updated: {event} != {test_event}"
    api.delete_namespaced_event(name, ns)
    assert not _in_list(c, ns, name, True), "should not have found test event after deletion"
    assert not _in_list(c, ns, name, False), "should not have found test event after deletion"


@conformance(API + "should delete a collection of events [Conformance]", basename="events")
def events_api_collection(c: Ctx) -> None:
    api, ns = client.EventsV1Api(c.api), c.ns
    names = ["test-event-1", "test-event-2", "test-event-3"]
    for name in names:
        api.create_namespaced_event(ns, _events_v1(ns, name, "testevent-set"))
    selector = "testevent-set=true"
    assert len(api.list_namespaced_event(ns, label_selector=selector).items) == len(names)
    api.delete_collection_namespaced_event(ns, label_selector=selector)
    assert not api.list_namespaced_event(ns, label_selector=selector).items, \
        "unexpected event list after deletecollection"
