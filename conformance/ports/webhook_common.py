"""What the ports of test/e2e/apimachinery/webhook.go (AdmissionWebhook) share.

Upstream deploys agnhost's sample webhook as a Deployment behind the Service
`e2e-test-webhook`; here the same webhook (conformance/images/webhook.py) runs in the
conformance process and that Service is selector-less with an EndpointSlice pointing at
it, so every webhook is still registered through a service reference with a caBundle and
every upstream assertion is kept. Each test scopes its webhooks to its namespace (labelled
`<namespace>: "true"`) and waits for a configuration through marker ConfigMaps in a
second namespace, as upstream does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from kubernetes import client
from kubernetes.client.rest import ApiException

from conformance.framework import Ctx, poll
from conformance.images.webhook import WebhookServer

W = "[sig-api-machinery] AdmissionWebhook [Privileged:ClusterAdmin] "
SERVICE = "e2e-test-webhook"
SERVICE_PORT = 8443
BASENAME = "webhook"


@dataclass
class Env:
    """One test's webhook: its namespace (= UniqueName), marker namespace, server."""

    c: Ctx
    unique: str
    markers: str
    server: WebhookServer
    made: list[tuple[str, str]] = field(default_factory=list)  # (kind, name) to delete

    @property
    def adm(self) -> client.AdmissionregistrationV1Api:
        return client.AdmissionregistrationV1Api(self.c.api)

    def hook(self, name: str, path: str, *, ops: tuple[str, ...] = ("CREATE",),
             resources: tuple[str, ...] = ("configmaps",), group: str = "",
             versions: tuple[str, ...] = ("v1",), ca: bool = True,
             selector: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        """A webhook on the stand-in's `path`, scoped to this test's namespace."""
        return {"name": name, "rules": [{"operations": list(ops), "apiGroups": [group],
                                         "apiVersions": list(versions),
                                         "resources": list(resources)}],
                "clientConfig": {"service": {"namespace": self.unique, "name": SERVICE,
                                             "path": path, "port": SERVICE_PORT}}
                | ({"caBundle": self.server.ca_bundle} if ca else {}),
                "sideEffects": "None", "admissionReviewVersions": ["v1", "v1beta1"],
                "namespaceSelector": selector or {"matchLabels": {self.unique: "true"}}
                } | extra

    def is_ready_hook(self) -> dict[str, Any]:
        """upstream's newValidatingIsReadyWebhookFixture (the mutating one is alike)."""
        return self.hook("validating-is-webhook-configuration-ready.k8s.io", "/always-deny",
                         selector={"matchLabels": {f"{self.unique}-markers": "true"}},
                         failurePolicy="Ignore",
                         objectSelector={"matchLabels": {self.unique: "true"}})

    def deny_configmap_hook(self) -> dict[str, Any]:
        return self.hook("deny-unwanted-configmap-data.k8s.io", "/configmaps",
                         ops=("CREATE", "UPDATE", "DELETE"), selector={
                             "matchLabels": {self.unique: "true"}, "matchExpressions": [{
                                 "key": "skip-webhook-admission", "operator": "NotIn",
                                 "values": ["yes"]}]})

    def mutate_configmap_hook(self, stage: int) -> dict[str, Any]:
        return self.hook(f"adding-configmap-data-stage-{stage}.k8s.io", "/mutating-configmaps")

    def validating(self, name: str, hooks: list[dict[str, Any]], **meta: Any) -> Any:
        self.made.append(("validating", name))  # before the call: a lost reply is still swept
        return self.adm.create_validating_webhook_configuration({
            "metadata": {"name": name} | meta, "webhooks": hooks})

    def mutating(self, name: str, hooks: list[dict[str, Any]], **meta: Any) -> Any:
        for h in hooks:
            h.setdefault("reinvocationPolicy", "Never")
        self.made.append(("mutating", name))
        return self.adm.create_mutating_webhook_configuration({
            "metadata": {"name": name} | meta, "webhooks": hooks})

    def delete_configurations(self) -> None:
        """Delete every webhook configuration this test made (cluster-scoped, so the
        namespace sweep never reaches them), whether or not the test deleted it itself."""
        failed = []
        for kind, name in self.made:
            try:
                getattr(self.adm, f"delete_{kind}_webhook_configuration")(name)
            except ApiException as e:
                if e.status != 404:
                    failed.append(f"{kind} {name}: HTTP {e.status}")
        assert not failed, f"webhook configurations left behind: {failed}"

    def wait_ready(self) -> None:
        """upstream's waitWebhookConfigurationReady: marker ConfigMaps until denied."""
        def denied() -> bool:
            name = str(uuid.uuid4())
            try:
                self.c.core.create_namespaced_config_map(self.markers, client.V1ConfigMap(
                    metadata=client.V1ObjectMeta(name=name, labels={self.unique: "true"})))
            except ApiException as e:
                if "denied" in (e.body or ""):
                    return True
                raise
            self.c.core.delete_namespaced_config_map(name, self.markers)
            return False
        poll(denied, 30, "the webhook configuration to be ready", interval=0.1)


def setup(c: Ctx) -> Env:
    """upstream's BeforeEach: label the namespace, the markers namespace, the server
    certificate and the webhook behind the Service."""
    unique = c.ns
    c.core.patch_namespace(unique, {"metadata": {"labels": {unique: "true"}}})
    markers = c.create_namespace(f"{c.basename}-markers", labels={f"{unique}-markers": "true"})
    server = WebhookServer(f"{SERVICE}.{unique}.svc")
    c.core.create_namespaced_service(unique, {
        "metadata": {"name": SERVICE, "labels": {"test": "webhook"}},
        "spec": {"ports": [{"protocol": "TCP", "port": SERVICE_PORT,
                            "targetPort": server.port}]}})
    client.DiscoveryV1Api(c.api).create_namespaced_endpoint_slice(unique, {
        "metadata": {"name": f"{SERVICE}-stand-in",
                     "labels": {"kubernetes.io/service-name": SERVICE}},
        "addressType": "IPv4", "ports": [{"name": "", "port": server.port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [server.host], "conditions": {"ready": True}}]})
    return Env(c, unique, markers, server)


def with_webhook(fn: Callable[[Env], None]) -> Callable[[Ctx], None]:
    def run(c: Ctx) -> None:
        env = setup(c)
        try:
            fn(env)
        finally:
            try:
                env.delete_configurations()
            finally:
                env.server.stop()
    run.__name__ = getattr(fn, "__name__", "webhook_port")
    return run


def _cm(name: str, data: dict[str, str]) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data)


def non_compliant(name: str) -> client.V1ConfigMap:
    return _cm(name, {"webhook-e2e-test": "webhook-disallow"})


def to_be_mutated(name: str) -> client.V1ConfigMap:
    return _cm(name, {"mutation-start": "yes"})


def create_until(env: Env, body: Callable[[], client.V1ConfigMap],
                 done: Callable[[Any, ApiException | None], bool], what: str) -> None:
    """upstream's 30 s polls: create a ConfigMap (deleting what was created) until
    `done(created, error)`; an error that is not a denial fails at once."""
    def attempt() -> bool:
        cm = body()
        try:
            created = env.c.core.create_namespaced_config_map(env.unique, cm)
        except ApiException as e:
            if "denied" not in (e.body or ""):
                raise
            return done(None, e)
        env.c.core.delete_namespaced_config_map(cm.metadata.name, env.unique)
        return done(created, None)
    poll(attempt, 30, what, interval=0.1)


def until_denied(env: Env) -> None:
    create_until(env, lambda: non_compliant(str(uuid.uuid4())),
                 lambda cm, err: err is not None, "the configMap to be denied")


def until_allowed(env: Env) -> None:
    create_until(env, lambda: non_compliant(str(uuid.uuid4())),
                 lambda cm, err: err is None, "the configMap to be allowed")


def until_mutated(env: Env, mutated: bool) -> None:
    create_until(env, lambda: to_be_mutated(str(uuid.uuid4())),
                 lambda cm, err: cm is not None and
                 ("mutation-stage-1" in (cm.data or {})) == mutated,
                 f"a configMap {'mutated' if mutated else 'not mutated'}")
