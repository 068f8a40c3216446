"""Helpers shared by the end-to-end tests: bounded polling, raw JSON reads through the
official client, and per-test namespaces on the shared cluster."""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
import time
import uuid
from typing import Any, Awaitable, Callable, Iterator, TypeVar, cast

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

T = TypeVar("T")


def wait_for(fn: Callable[[], T], what: str, timeout: float = 60.0, every: float = 0.1) -> T:
    """Poll fn until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


async def until(fn: Callable[[], T | Awaitable[T]], what: str = "a condition",
                timeout: float = 15.0, every: float = 0.05) -> T:
    """wait_for inside an event loop, not blocking it: poll fn (a function or a coroutine
    function) until it returns something truthy (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = fn()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return cast(T, value)
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(every)


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    """The smallest valid apps/v1 Deployment: one busybox container, selected by app=name."""
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


def raw(call: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """A read through the official client as plain JSON (for tests that want to see
    exactly what the server sent, not the client's typed model)."""
    return json.loads(call(*args, _preload_content=False, **kw).data)


def api_for(kubeconfig: Any) -> client.ApiClient:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    return client.ApiClient(cfg)


def namespace(api: client.ApiClient, prefix: str) -> Iterator[str]:
    """A fresh namespace for one test (a generator for fixtures); deleted afterwards."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": name}})
    yield name
    try:
        core.delete_namespace(name)
    except ApiException:
        pass


def api_fixture(cluster: str) -> Any:
    """A module-scoped fixture: the official Python client against the Server that the
    fixture named `cluster` gives (`api = api_fixture("cluster")` in a test module)."""
    @pytest.fixture(scope="module")
    def api(request: pytest.FixtureRequest) -> Iterator[client.ApiClient]:
        with api_for(request.getfixturevalue(cluster).kubeconfig) as c:
            yield c
    return api


def namespace_fixture(api: str, prefix: str) -> Any:
    """A fixture: a fresh namespace per test (named `prefix`-...) through the client that
    the fixture named `api` gives."""
    @pytest.fixture
    def ns(request: pytest.FixtureRequest) -> Iterator[str]:
        yield from namespace(request.getfixturevalue(api), prefix)
    return ns


def edit_with(kubectl: Any, tmp_path: Any, old: str, new: str, *target: str) -> str:
    """`kubectl edit TARGET...` with an editor (a Python script) replacing `old` by `new`
    in the text kubectl hands it."""
    editor = tmp_path / "editor.py"
    editor.write_text("import sys\n"
                      "p = sys.argv[-1]\n"
                      f"text = open(p).read().replace({old!r}, {new!r})\n"
                      "open(p, 'w').write(text)\n")
    return str(kubectl("edit", *target, env={"KUBE_EDITOR": f"{sys.executable} {editor}"}))
