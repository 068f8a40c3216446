"""kapi's query parsing against upstream's rules, over every registered route, and the
shape of every error's Status body.

Upstream's rules, restated here as the oracle (apimachinery's query conversion and
ValidateListOptions): a boolean is false only for "0" and "false" in any case, so a
bare or empty value is true; an integer is Go's strconv.ParseInt (no spaces, no
underscores, int64), its failure a 400 carrying strconv's text; resourceVersionMatch and
sendInitialEvents follow ValidateListOptions (a 422 on ListOptions.meta.k8s.io); dryRun
accepts only "All" (a 422 on the verb's options kind)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from kapi.endpoints.params import parse_bool, parse_int64
from kapi.errors import APIError
from kapi.registry.kinds import SCHEME

pytestmark = pytest.mark.anyio

BOOL_VALUES = ["", "true", "True", "TRUE", "t", "1", "yes", "on", "0", "false", "False",
               "FALSE", "fAlSe", "no", "off", " 0", "00"]
INT_VALUES = ["0", "1", "-1", "+7", "007", "9223372036854775807", "-9223372036854775808",
              "9223372036854775808", "", " 1", "1 ", "1_000", "1.0", "0x10", "abc", "١"]


def upstream_bool(text: str) -> bool:
    return not (text == "0" or text.lower() == "false")


def upstream_int(text: str) -> int | str:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return f'strconv.ParseInt: parsing "{text}": invalid syntax'
    value = int(text)
    if not -(1 << 63) <= value < (1 << 63):
        return f'strconv.ParseInt: parsing "{text}": value out of range'
    return value


@pytest.mark.parametrize("text", BOOL_VALUES)
def test_booleans_as_upstream(text: str) -> None:
    assert parse_bool(text) == upstream_bool(text)


@pytest.mark.parametrize("text", INT_VALUES)
def test_integers_as_upstream(text: str) -> None:
    try:
        got: int | str = parse_int64(text)
    except APIError as e:
        assert e.code == 400
        got = e.message
    assert got == upstream_int(text)


# -- every route ----------------------------------------------------------------------------
ORDER = ["kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code"]
REASONS = {400: {"BadRequest"}, 404: {"NotFound"}, 405: {"MethodNotAllowed"},
           406: {"NotAcceptable"}, 409: {"AlreadyExists", "Conflict"},
           413: {"RequestEntityTooLarge"}, 415: {"UnsupportedMediaType"}, 422: {"Invalid"}}


def assert_status(r: httpx.Response, code: int) -> dict[str, Any]:
    """r is a Status in upstream's shape: metav1.Status's field order, the HTTP code in
    `code`, the reason that code has upstream, a JSON content type, a final newline."""
    assert r.status_code == code, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.content.endswith(b"}\n")
    body = r.json()
    assert list(body) == [k for k in ORDER if k in body]
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["metadata"] == {}
    assert body["status"] == "Failure" and body["code"] == code and body["message"]
    assert body["reason"] in REASONS[code]
    return body


def collections() -> list[str]:
    out = []
    for r in SCHEME.resources:
        if "list" in r.verbs:
            prefix = f"/apis/{r.group}/{r.version}" if r.group else f"/api/{r.version}"
            ns = "/namespaces/default" if r.namespaced else ""
            out.append(f"{prefix}{ns}/{r.resource}")
    return out


COLLECTIONS = collections()


async def test_every_collection_parses_limit_and_timeout_as_upstream(api: httpx.AsyncClient) -> None:
    for url in COLLECTIONS:
        body = assert_status(await api.get(url, params={"limit": "1_0"}), 400)
        assert body["message"] == 'strconv.ParseInt: parsing "1_0": invalid syntax', url
        body = assert_status(await api.get(url, params={"watch": "1", "timeoutSeconds": " 5"}),
                             400)
        assert body["message"] == 'strconv.ParseInt: parsing " 5": invalid syntax', url
        assert_status(await api.get(url, params={"labelSelector": "a in ("}), 400)
        assert (await api.get(url, params={"limit": "+1"})).status_code == 200, url


@pytest.mark.parametrize("value", BOOL_VALUES)
async def test_every_collection_reads_watch_as_upstream(api: httpx.AsyncClient, value: str) -> None:
    """resourceVersionMatch without a resourceVersion is refused with a different text on
    a list and on a watch: which one comes back shows how `watch` was read."""
    watch_text = ("resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                  "provided")
    list_text = "resourceVersionMatch is forbidden unless resourceVersion is provided"
    for url in COLLECTIONS:
        r = await api.get(url, params={"watch": value, "resourceVersionMatch": "NotOlderThan"})
        body = assert_status(r, 422)
        assert body["details"]["kind"] == "ListOptions"
        assert body["message"] == ('ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: '
                                   f'Forbidden: {watch_text if upstream_bool(value) else list_text}')


async def test_list_options_rules(api: httpx.AsyncClient) -> None:
    url = COLLECTIONS[0]
    body = assert_status(await api.get(url, params={"resourceVersionMatch": "Bogus",
                                                    "resourceVersion": "1"}), 422)
    assert body["message"] == ('ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: '
                               'Unsupported value: "Bogus": supported values: "Exact", '
                               '"NotOlderThan", ""')
    body = assert_status(await api.get(url, params={"sendInitialEvents": ""}), 422)
    assert body["details"]["causes"] == [{"reason": "FieldValueForbidden", "field":
                                          "sendInitialEvents", "message":
                                          "Forbidden: sendInitialEvents is forbidden for list"}]
    body = assert_status(await api.get(url, params={"resourceVersionMatch": "Exact",
                                                    "resourceVersion": "0"}), 422)
    assert body["message"].endswith('resourceVersionMatch "exact" is forbidden for '
                                    'resourceVersion "0"')


# -- every error path's Status ------------------------------------------------------------------
CM = "/api/v1/namespaces/default/configmaps"


async def test_error_paths_have_upstreams_shape(api: httpx.AsyncClient) -> None:
    assert (await api.post(CM, json={"metadata": {"name": "e"}})).status_code == 201
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", "/api/v1/nothings", {}, 404),
        ("GET", f"{CM}/absent", {}, 404),
        ("GET", f"{CM}/e/nosuch", {}, 404),
        ("POST", CM, {"json": {"metadata": {"name": "e"}}}, 409),
        ("PUT", f"{CM}/e", {"json": {"metadata": {"name": "e", "resourceVersion": "1"}}}, 409),
        ("POST", CM, {"content": b"{", "headers": {"content-type": "application/json"}}, 400),
        ("POST", CM, {"content": b"x", "headers": {"content-type": "text/csv"}}, 415),
        ("GET", CM, {"headers": {"accept": "text/csv"}}, 406),
        ("POST", CM, {"json": {"metadata": {"name": "Bad_Name"}}}, 422),
        ("POST", CM + "?dryRun=Sometimes", {"json": {"metadata": {"name": "d"}}}, 422),
        ("DELETE", f"{CM}/e?gracePeriodSeconds=soon", {}, 400),
        ("PATCH", f"{CM}/e", {"content": b'[{"op":"test","path":"/data","value":1}]',
                              "headers": {"content-type": "application/json-patch+json"}}, 422),
        ("PATCH", f"{CM}/e", {"content": b"{}", "headers": {"content-type": "text/plain"}}, 415),
        ("POST", f"{CM}/e", {"json": {}}, 405),
    ]
    for method, url, kw, code in cases:
        assert_status(await api.request(method, url, **kw), code)


async def test_dry_run_values(api: httpx.AsyncClient) -> None:
    r = await api.post(CM, params=[("dryRun", "All"), ("dryRun", "Bogus")],
                       json={"metadata": {"name": "d"}})
    body = assert_status(r, 422)
    assert body["message"] == ('CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported '
                               'value: []string{"All", "Bogus"}: supported values: "All"')
    r = await api.delete(f"{CM}/absent", params={"dryRun": "x"})
    assert assert_status(r, 422)["details"]["kind"] == "DeleteOptions"


def test_pod_log_options_reach_the_kubelet_as_upstream_reads_them() -> None:
    from kapi.endpoints.podlog import forwarded

    assert forwarded({"follow": "True", "previous": "0", "timestamps": "", "tailLines": "+5",
                      "sinceTime": "2024-01-01T00:00:00Z"}) == {
        "follow": "true", "previous": "false", "timestamps": "true", "tailLines": "5",
        "sinceTime": "2024-01-01T00:00:00Z"}
    with pytest.raises(APIError) as e:
        forwarded({"limitBytes": "1k"})
    assert (e.value.code, e.value.message) == (400, 'strconv.ParseInt: parsing "1k": invalid syntax')
