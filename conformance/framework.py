"""What every ported test gets: a context with clients, a namespace of its own, features.

Owns the registry of ported tests (`@conformance(codename)`), the per-test context
(`Ctx`: official Python client, kubectl, namespaces made for the test) and the small
helpers upstream's e2e framework offers (poll until true, expect an API error). Ports
never create a namespace except through `Ctx.create_namespace`, so the runner can
remove every namespace it made. This module never decides what runs (run.py does).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import string
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from kubernetes import client
from kubernetes.client.rest import ApiException

from conformance.inventory import by_codename

Port = Callable[["Ctx"], None]


@dataclass(frozen=True)
class Registered:
    fn: Port
    needs: tuple[str, ...]      # features the test cannot pass without, e.g. "containers"
    basename: str               # upstream's framework basename for the test namespace


PORTS: dict[str, Registered] = {}


def conformance(codename: str, *, basename: str = "e2e",
                needs: tuple[str, ...] = ()) -> Callable[[Port], Port]:
    """Register a port under its upstream codename (must be in the inventory)."""
    by_codename(codename)  # a typo in a codename fails at import, never silently

    def add(fn: Port) -> Port:
        if codename in PORTS:
            raise ValueError(f"ported twice: {codename}")
        PORTS[codename] = Registered(fn, needs, basename)
        return fn
    return add


class Skip(Exception):
    """Raised by a port that finds, at run time, a feature the cluster lacks."""


@dataclass
class Run:
    """State shared by all tests of one run: its id and every namespace it created."""

    api: client.ApiClient
    run_id: str
    kubeconfig: str | None
    kubectl: str | None
    features: set[str]
    namespaces: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delete_namespaces(self, names: list[str] | None = None) -> None:
        core = client.CoreV1Api(self.api)
        with self.lock:
            todo = sorted(self.namespaces) if names is None else names
        for ns in todo:
            try:
                core.delete_namespace(ns)
            except ApiException as e:
                if e.status != 404:
                    continue  # kept in the set: the final sweep tries again
            except Exception:  # server unreachable: keep it for the final sweep, go on
                continue
            with self.lock:
                self.namespaces.discard(ns)


def rand_suffix(n: int = 5) -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=n))


class Ctx:
    """One test's view: clients, its default namespace (created lazily), helpers."""

    def __init__(self, run: Run, basename: str) -> None:
        self.run = run
        self.api = run.api
        self.basename = basename
        self.mine: list[str] = []
        self._ns: str | None = None
        self._ns_lock = threading.Lock()  # a port's own threads may ask for it at once
        self.log_lines: list[str] = []

    # -- clients ---------------------------------------------------------------------
    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)

    @property
    def coordination(self) -> client.CoordinationV1Api:
        return client.CoordinationV1Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def log(self, msg: str) -> None:
        self.log_lines.append(msg)

    # -- namespaces --------------------------------------------------------------------
    @property
    def ns(self) -> str:
        """The test's own namespace, as upstream's framework makes one per test."""
        with self._ns_lock:
            if self._ns is None:
                self._ns = self.create_namespace(self.basename)
            return self._ns

    def create_namespace(self, base: str, labels: dict[str, str] | None = None,
                         wait_sa: bool = True) -> str:
        name = f"{base}-{rand_suffix()}"
        meta = client.V1ObjectMeta(name=name, labels={"e2e-run": self.run.run_id,
                                                       "e2e-framework": self.basename,
                                                       **(labels or {})})
        with self.run.lock:
            self.run.namespaces.add(name)  # before the call: a lost reply is still swept
        self.mine.append(name)
        self.core.create_namespace(client.V1Namespace(metadata=meta))
        if wait_sa:  # upstream waits for the default service account before a test runs
            poll(lambda: _exists(lambda: self.core.read_namespaced_service_account(
                "default", name)), 60, f"default service account in {name}")
        return name

    def cleanup(self) -> None:
        self.run.delete_namespaces(list(self.mine))

    # -- kubectl -------------------------------------------------------------------------
    def kubectl_command(self, *args: str) -> tuple[list[str], dict[str, str]]:
        """argv and environment for running kubectl against the cluster under test."""
        binary = self.run.kubectl or shutil.which("kubectl")
        if not binary:
            raise Skip("feature absent: kubectl binary")
        env = dict(os.environ)
        if self.run.kubeconfig:
            env["KUBECONFIG"] = self.run.kubeconfig
        return [binary, *args], env

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
        argv, env = self.kubectl_command(*args)
        p = subprocess.run(argv, input=input, capture_output=True, text=True,
                           timeout=timeout, env=env)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: exit {p.returncode}: {p.stderr}")
        return p


def _exists(get: Callable[[], Any]) -> bool:
    try:
        get()
        return True
    except ApiException as e:
        if e.status == 404:
            return False
        raise


def poll(cond: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Call cond until it returns a truthy value (returned) or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def expect_api_error(fn: Callable[[], Any], status: int | None = None) -> ApiException:
    """fn must fail with an API Status error (of the given HTTP code if given)."""
    try:
        fn()
    except ApiException as e:
        if status is not None and e.status != status:
            raise AssertionError(f"expected HTTP {status}, got {e.status}: {e.body}") from e
        return e
    raise AssertionError("expected an API error, the call succeeded")


def read_or_none(get: Callable[[], Any]) -> Any:
    """get(), or None where it answers 404."""
    try:
        return get()
    except ApiException as e:
        if e.status == 404:
            return None
        raise


def is_not_found(fn: Callable[[], Any]) -> bool:
    return not _exists(fn)


def status_reason(e: ApiException) -> str:
    try:
        return str(json.loads(e.body).get("reason", ""))
    except (TypeError, ValueError):
        return ""


# -- pods that run to completion (upstream's e2epodoutput) --------------------------------
POD_START = 300         # f.Timeouts.PodStart
POD_DELETE = 180        # e2epod.DefaultPodDeletionTimeout


def wait_pod_success(c: Ctx, name: str, timeout: float = POD_START) -> Any:
    """upstream's WaitForPodSuccessInNamespaceTimeout: Succeeded, or an error as soon as
    the pod has Failed (it will never succeed then)."""
    def done() -> Any:
        p = c.core.read_namespaced_pod(name, c.ns)
        if p.status.phase == "Failed":
            raise AssertionError(f"pod {name} failed: reason {p.status.reason!r}, "
                                 f"message {p.status.message!r}, {_log_dump(c, p)}")
        return p if p.status.phase == "Succeeded" else None
    return poll(done, timeout, f"pod {name} to succeed", 2)


def _log_dump(c: Ctx, pod: Any) -> str:
    """Every container's log, for the failure message (as upstream logs them)."""
    out = []
    for ctr in (pod.spec.init_containers or []) + pod.spec.containers:
        try:
            text = c.core.read_namespaced_pod_log(pod.metadata.name, c.ns, container=ctr.name)
        except ApiException as e:
            text = f"<no log: HTTP {e.status}>"
        out.append(f"container {ctr.name}: {text!r}")
    return "; ".join(out)


def delete_pod_sync(c: Ctx, name: str, timeout: float = POD_DELETE) -> None:
    """upstream's PodClient.DeleteSync: delete, then wait until the pod is gone."""
    try:
        c.core.delete_namespaced_pod(name, c.ns)
    except ApiException as e:
        if e.status != 404:
            raise
    poll(lambda: is_not_found(lambda: c.core.read_namespaced_pod(name, c.ns)), timeout,
         f"pod {name} to be deleted", 1)


def expect_container_output(c: Ctx, scenario: str, pod: client.V1Pod, index: int,
                          expected: list[str], regexp: bool = False) -> None:
    """upstream's TestContainerOutput (TestContainerOutputRegexp with regexp=True): run
    the pod until every container has exited with success (PodStart timeout), then the
    log of container `index` must contain each expected string (or match each regex).
    The pod is deleted afterwards, waiting for it to go, as upstream does."""
    assert 0 <= index < len(pod.spec.containers), f"invalid container index {index}"
    cname = pod.spec.containers[index].name
    c.log(f"creating a pod to test {scenario}")
    created = c.core.create_namespaced_pod(pod.metadata.namespace or c.ns, pod)
    name = created.metadata.name
    try:
        wait_pod_success(c, name)
        logs = c.core.read_namespaced_pod_log(name, c.ns, container=cname)
        for want in expected:
            found = re.search(want, logs) if regexp else want in logs
            assert found, f"expected {want!r} in container {cname} output: {logs!r}"
    finally:
        delete_pod_sync(c, name)
