"""build_app(config) -> the API server as a Starlette (ASGI) application.

The request pipeline, in order: request info -> authentication -> authorization ->
handler (decode, admission, validation, storage) -> encode. Authentication and
authorization are pluggable steps from kapi.auth so TLS, tokens and RBAC slot in without
touching handlers: over TLS (the default) a verified client certificate names the user and
a request without credentials is anonymous only on the public paths (else 401); with
--insecure-http every caller is the cluster admin, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from typing import Any, AsyncIterator, Callable

import orjson
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute, request_response
from starlette.websockets import WebSocket

from kapi import discovery, errors, malloc, security
from kapi.admission import (
    apiserverendpoints,
    collect_annotations,
    collect_warnings,
    lifecycle,
    podclasses,
    timestamps,
)
from kapi.admission.limitranger import LimitRanger
from kapi.admission.noderestriction import NodeRestriction
from kapi.admission.podsecurity.config import load as pod_security_settings
from kapi.admission.podsecurity.plugin import PodSecurity
from kapi.admission.policy import ValidatingPolicies
from kapi.admission.resourcequota import ResourceQuota
from kapi.admission.serviceaccount import ServiceAccountAdmission
from kapi.admission.serviceips import ServiceAllocator
from kapi.admission.webhooks.client import Clients, ServiceResolver
from kapi.admission.webhooks.dispatch import MutatingWebhooks, ValidatingWebhooks
from kapi.apiextensions import CRDController
from kapi.apiextensions.conversion import WebhookConverter
from kapi.auth import Authenticate, Authorize, User, current_user, sakeys, set_current_user
from kapi.auth.bootstraptoken import BootstrapTokens
from kapi.auth.satokens import ServiceAccountTokens
from kapi.auth.x509 import PeerTable, anonymous_on, x509_authenticator
from kapi.config import Config
from kapi.defaulting import PodAdmission
from kapi.endpoints import (
    accessreview,
    codec,
    liststream,
    metrics,
    params,
    podlog,
    proxysub,
    proxytunnel,
    selfsubjectreview,
    streams,
    upgrade,
)
from kapi.endpoints.aggregator import Aggregator, ensure_local, keep_status
from kapi.endpoints.audit import Auditor
from kapi.endpoints.body import drain, read_body
from kapi.endpoints.handlers import Call, Handlers
from kapi.endpoints.requestinfo import RequestInfo, named_by_selector, parse
from kapi.endpoints.tokens import TokenEndpoints, TokenSettings
from kapi.endpoints.watch import WatchStream
from kapi.meta import objects
from kapi.meta.resources import Scheme
from kapi.meta.schema import load_definitions
from kapi.openapi.serving import OpenAPIServer
from kapi.patch.managedfields import Tracker
from kapi.registry import bootstrap, clusterinfo
from kapi.registry.kinds import SCHEME
from kapi.registry.legacy_keys import move_legacy_keys
from kapi.registry.store import Admit, Finalize, Store
from kapi.registry.writesteps import Validate
from kapi.storage import EtcdOptions, encryption, open_storage
from kapi.storage.cacher import WatchCache
from kapi.storage.common import compact_loop
from kapi.storage.interface import Storage
from kapi.validation import Validator

log = logging.getLogger("kapi")

JSON_HEADERS = {"content-type": "application/json"}


WARNINGS_TOTAL = 4096  # characters of warnings per response, as upstream's recorder
WARNING_ITEM = 256  # ... past which each warning is cut to this many


_CONTROLS = {c: " " for c in [*range(0x20), 0x7F]}


def _quoted(text: str) -> str:
    """A warning's text as an HTTP quoted-string (kubectl unquotes it); control
    characters, which no header may hold, become spaces."""
    return text.replace("\\", "\\\\").replace('"', '\\"').translate(_CONTROLS)


def warning_header(warnings: list[str]) -> str:
    """The Warning header of a response: each text once, `299 - "text"`, bounded in
    size as upstream bounds it. Its UTF-8 bytes go on the wire as they are (Go writes
    header bytes raw); the server encodes header strings as Latin-1, hence the round
    trip."""
    texts = list(dict.fromkeys(w for w in warnings if w))
    if sum(len(t) for t in texts) > WARNINGS_TOTAL:
        cut, total = [], 0
        for t in texts:
            t = t[:WARNING_ITEM]
            total += len(t)
            if total > WARNINGS_TOTAL:
                break
            cut.append(t)
        texts = cut
    value = ", ".join(f'299 - "{_quoted(t)}"' for t in texts)
    return value.encode("utf-8", errors="replace").decode("latin-1")


class _Query(QueryParams):
    """request.query_params, whose get() skips Mapping.get's KeyError on absent keys
    and answers a repeated key's first value."""

    def get(self, key: Any, default: Any = None) -> Any:
        # a repeated parameter counts by its first value, as upstream reads url.Values
        if key not in self._dict:
            return default
        return next(v for k, v in self._list if k == key)


async def _skip(r: Any, op: str, new: Any, old: Any) -> None:
    """An admission step switched off."""


def json_response(code: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    # Go's JSON encoder ends every document with a newline; clients compare bytes
    return Response(orjson.dumps(body) + b"\n", status_code=code,
                    headers=JSON_HEADERS if headers is None else JSON_HEADERS | headers)


def error_response(e: errors.APIError) -> Response:
    return json_response(e.code, e.status())


def _etcd_options(config: Config) -> EtcdOptions:
    return EtcdOptions(servers=config.etcd_servers, prefix=config.etcd_prefix,
                       cafile=config.etcd_cafile, certfile=config.etcd_certfile,
                       keyfile=config.etcd_keyfile)


class APIServer:
    def __init__(self, config: Config, *, storage: Storage | None = None,
                 clock: objects.Clock = objects.utc_now, scheme: Scheme = SCHEME,
                 authenticate: Authenticate | None = None,
                 authorize: Authorize | None = None) -> None:
        # a copy of its own: custom resources are served in it at run time
        scheme = Scheme(scheme.resources, dict(scheme.preferred))
        self.config, self.scheme, self.clock = config, scheme, clock
        self.storage = encryption.wrap(
            storage or open_storage(config.storage, data_dir=config.data_dir,
                                    etcd=_etcd_options(config)),
            encryption.write_default(config.data_dir) if config.encrypt_secrets and
            not config.encryption_provider_config else config.encryption_provider_config,
            [(r.group, r.resource, r.key_prefix) for r in scheme.resources])
        self.cache = WatchCache(self.storage, sorted({r.key_prefix for r in scheme.resources}),
                                capacity=config.watch_cache_capacity,
                                max_bytes=config.watch_cache_bytes)
        self.definitions = load_definitions()
        services = scheme.get("", "v1", "services")
        assert services is not None
        self.validator = Validator(self.definitions)
        finalize: list[Finalize] = [Validate()] if config.validation else []
        tracker = Tracker(self.validator.types) if config.managed_fields else None
        # the steps kinds ask for by name (Strategy.admission); pod defaults only validated
        plugins: dict[str, Admit] = {
            "PodDefaults": PodAdmission(toleration_seconds=config.default_toleration_seconds)
            if config.validation else _skip,
            "ServiceIPs": ServiceAllocator(self.cache, config.service_cidr, services,
                                           config.service_node_port_range),
            "ServiceAccount": _skip if "ServiceAccount" in config.disable_admission_plugins
            else ServiceAccountAdmission(self.lookup),
            "Priority": podclasses.Priority(self.cache, scheme),
            "RuntimeClass": podclasses.RuntimeClass(self.cache, scheme),
            "StatusTimestamps": timestamps.StatusTimestamps(clock)}
        limits, quota = LimitRanger(scheme), ResourceQuota(scheme, clock)
        pss = PodSecurity(scheme, pod_security_settings(config.admission_control_config_file))
        nodes = NodeRestriction(scheme.get("", "v1", "pods"))  # type: ignore[arg-type]
        self.webhook_clients = Clients()
        token_settings = self._token_settings()
        self.sa_tokens = ServiceAccountTokens(
            keys=token_settings.keys, issuers=config.service_account_issuers,
            audiences=config.audiences, lookup=self.lookup, clock=clock)
        # the verified client certificates of open TLS connections (kapi/serving.py fills it)
        self.peers = PeerTable()
        # over TLS: client certificates first, and no credential is anonymous only on the
        # public paths; plain HTTP (--insecure-http): no credential is the admin
        certs = [] if config.insecure_http else [x509_authenticator(self.peers)]
        self.security = security.build(config, self.cache, self.storage,
                                       [*certs, self.sa_tokens,
                                        BootstrapTokens(self.lookup, clock)],
                                       None if config.insecure_http else anonymous_on())
        # upstream's order: mutating (..., LimitRanger, ..., MutatingAdmissionWebhook), then
        # validating (NodeRestriction, ..., PodSecurity, ..., ValidatingAdmissionPolicy,
        # ValidatingAdmissionWebhook, ResourceQuota)
        self.store = Store(storage=self.storage, cache=self.cache, scheme=scheme, clock=clock,
                           admit=[lifecycle.NamespaceLifecycle(self.cache, scheme),
                                  limits.default,
                                  MutatingWebhooks(self.cache, scheme, self.webhook_clients)],
                           plugins=plugins, finalize=finalize,
                           validating=[self.security.escalation, nodes, limits.check, pss,
                                       ValidatingPolicies(self.cache, scheme),
                                       ValidatingWebhooks(self.cache, scheme, self.webhook_clients),
                                       quota])
        limits.store = quota.store = pss.store = nodes.store = self.store
        self.aggregator = Aggregator(self.cache, scheme, self.webhook_clients)
        self.handlers = Handlers(store=self.store, scheme=scheme, definitions=self.definitions,
                                 clock=clock, validator=self.validator,
                                 validation=config.validation, tracker=tracker)
        self.openapi = OpenAPIServer(scheme, self.definitions, remote=self.aggregator.specs)
        self.aggregator.specs.on_change = self.openapi.docs.invalidate
        self.crds = CRDController(store=self.store, scheme=scheme, cache=self.cache,
                                  definitions=self.definitions, validator=self.validator,
                                  on_change=self.openapi.docs.invalidate, clock=clock,
                                  converter=WebhookConverter(
                                      self.webhook_clients, ServiceResolver(self.cache, scheme)))
        self.metrics = metrics.MetricsAPI(
            store_get=self.store.get, store_list=self.store.list,
            rows={r: scheme.get("", "v1", r) for r in ("pods", "nodes")},  # type: ignore[misc]
            now=lambda: objects.rfc3339(clock()), resolution=config.metric_resolution)
        self.streams = streams.StreamEndpoints(store=self.store, scheme=scheme)
        self.tokens = TokenEndpoints(store=self.store, scheme=scheme, settings=token_settings,
                                     authenticator=self.sa_tokens, clock=clock)
        self.authenticate = authenticate or self.security.authenticate
        self.authorize = authorize or self.security.authorizer.authorize
        self._tasks: list[asyncio.Task[None]] = []
        self.audit = Auditor(config.audit_log_path, config.audit_policy_file,
                                   clock=clock) if config.audit_log_path else None

    def _token_settings(self) -> TokenSettings:
        c = self.config
        keys = sakeys.open_keys(c.data_dir, c.service_account_signing_key_file,
                                c.service_account_key_files)
        return TokenSettings(keys=keys, issuers=c.service_account_issuers,
                             audiences=c.audiences,
                             max_expiration=c.service_account_max_token_expiration,
                             extend_expiration=c.service_account_extend_token_expiration)

    async def lookup(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A core/v1 object as authentication and admission read it: the watch cache,
        then storage when the cache has not seen it yet (as upstream's listers fall back
        to a live read)."""
        r = self.scheme.get("", "v1", resource)
        if r is None:
            return None
        ns = namespace if r.namespaced else None
        if self.cache.ready.is_set():
            obj = self.cache.get(r.key_prefix, r.key(ns, name))
            if obj is not None:
                return obj
        try:
            return await self.store.get(r, ns, name)
        except errors.NotFound:
            return None

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        await self.storage.start()
        await move_legacy_keys(self.storage, list(self.scheme.resources))  # before the cache
        await self.cache.start()
        self.security.start(self.cache, self.scheme)
        await self.crds.start()  # every stored definition served before the first request
        await lifecycle.bootstrap(self.store, self.scheme, api_port=self.config.port)
        await self.security.reconcile(self.store, self.scheme)
        await bootstrap.ensure_defaults(self.store, self.scheme, objects.rfc3339(self.clock()),
                                        self.config.service_cidr.split(","))
        ca = self.config.pki_dir / "ca.crt"
        if not (self.config.insecure_http or self.config.tls_cert_file) and ca.exists():
            await clusterinfo.publish(self.store, self.scheme, self.config.server_url,
                                      ca.read_bytes())  # what joining nodes discover
        await apiserverendpoints.reconcile(self.store, self.scheme, host=self.config.host,
                                           port=self.config.port)
        self._tasks.append(asyncio.create_task(compact_loop(
            self.storage, interval=self.config.compact_interval,
            keep_revisions=self.config.compact_keep,
            keep_seconds=self.config.compact_keep_seconds,
            on_compacted=self._compacted), name="compactor"))
        await ensure_local(self.store, self.aggregator, ((metrics.GROUP, metrics.VERSION),))
        self.metrics.start()
        self._tasks.append(asyncio.create_task(keep_status(
            self.store, self.aggregator, interval=2.0, clock=self.clock), name="apiservices"))

    def _compacted(self, revision: int) -> None:
        self.cache.forget_before(revision)  # the window's older events: 410 anyway
        malloc.trim()  # what they held goes back to the system

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await self.crds.stop()
        await self.metrics.close()
        await self.webhook_clients.close()
        await self.cache.close()
        await self.storage.close()
        if self.audit is not None:
            self.audit.close()

    # -- requests -----------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        if self.audit is None:
            return await self._respond(request)
        started = self.audit.start()
        response = await self._respond(request)
        # what _serve learnt (user, request info, body), if it got that far
        user, info, body = getattr(request.state, "audited", (None, None, b""))
        out: Response = self.audit.record(started, request, user, info, body, response)
        return out

    async def _respond(self, request: Request) -> Response:
        try:
            return await self._serve(request)
        except errors.APIError as e:
            await drain(request)
            return error_response(e)
        except ClientDisconnect:  # the client went away mid-upload: nobody to answer
            log.debug("client disconnected during %s %s", request.method, request.url.path)
            return Response(status_code=499)
        except Exception as e:  # a bug: the client still gets a Status
            log.exception("internal error serving %s %s", request.method, request.url.path)
            return error_response(errors.InternalError(f"Internal error occurred: {e}"))

    async def handle_websocket(self, ws: WebSocket) -> None:
        """pods/exec, attach and portforward over WebSocket; anything else, and every
        refusal, gets the Status a plain request would (as a denial response)."""
        try:
            info: Any = parse("GET", ws.scope["path"], False)
        except errors.APIError:
            info = None
        r = self.scheme.get(info.group, info.version, info.resource) \
            if info is not None and info.is_resource else None
        if r is None or info.subresource not in streams.SUBRESOURCES or \
                r.subresource(info.subresource) is None:
            # an upgrade of anything but a pod's exec, attach or portforward gets the
            # answer the plain request would get (a 404, a 405, or the object itself)
            await upgrade.denial_endpoint(self.handle, error_response)(ws)
            return
        started, user = self.audit.start() if self.audit else {}, None
        try:
            q = _Query(ws.scope["query_string"])
            user = await self.authenticate(ws)
            await self.authorize(user, info)
            # a WebSocket exec/attach/portforward is a GET, but it writes to the pod: as
            # upstream (AuthorizePodWebsocketUpgradeCreatePermission) it needs create too
            await self.authorize(user, dataclasses.replace(info, verb="create"))
            set_current_user(user)
            await self.streams.websocket(ws, info, q, on_accept=self._audit_stream(
                started, ws, user, info))
        except errors.APIError as e:
            if ws.client_state.name == "CONNECTING":
                denial = error_response(e)
                if self.audit is not None:  # refused once authenticated: audited
                    self.audit.record(started, ws, user, info, b"", denial)
                await ws.send_denial_response(denial)
        except Exception:  # a bug: the client still gets a Status
            log.exception("internal error serving websocket %s", ws.url.path)
            if ws.client_state.name == "CONNECTING":
                await ws.send_denial_response(error_response(
                    errors.InternalError("Internal error occurred")))

    def _audit_stream(self, started: Any, ws: WebSocket, user: User,
                      info: RequestInfo) -> Callable[[], Callable[[], None]]:
        """What the stream calls once accepted; what that returns, when it ends."""
        if self.audit is None:
            return lambda: lambda: None
        audit = self.audit
        return lambda: audit.stream_started(started, ws, user, info)

    async def _serve(self, request: Request) -> Response:
        path = request.scope["path"]  # cheaper than building request.url
        q = _Query(request.scope["query_string"])
        info = parse(request.method, path, params.watch_requested(q))
        user = await self.authenticate(request)
        request.state.audited = (user, info, b"")
        await self.authorize(user, named_by_selector(info, q.get("fieldSelector") or ""))
        set_current_user(user)
        parts = path.split("/", 4)
        if len(parts) > 3 and parts[1] == "apis":  # an aggregated group/version
            apiservice = self.aggregator.remote(parts[2], parts[3])
            if apiservice is not None:
                return await self.aggregator.proxy(request, apiservice, user)
        if not info.is_resource:
            return await self._non_resource(request, info)
        return await self._resource(request, info, q)

    async def _non_resource(self, request: Request, info: RequestInfo) -> Response:
        path = info.path.rstrip("/") or "/"
        if request.method not in ("GET", "HEAD"):
            raise errors.MethodNotAllowed("the server does not allow this method on the "
                                          "requested resource")
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            ok = self.cache.ready.is_set()
            return Response(b"ok" if ok else b"not ready", status_code=200 if ok else 503,
                            media_type="text/plain")
        if path == "/version":
            return json_response(200, discovery.version_info())
        if path in (sakeys.DISCOVERY_PATH, sakeys.JWKS_PATH):
            return self._oidc(path)
        if path.startswith("/openapi/"):
            return self.openapi.serve(request, path)
        accept = request.headers.get("accept", "")
        agg = discovery.aggregated_version_wanted(accept)
        if path in ("/api", "/apis") and agg:
            body = discovery.aggregated(self.scheme, core=path == "/api", version=agg)
            if path == "/apis":
                body["items"].append(metrics.aggregated_item())
                body["items"] += self.aggregator.aggregated_items()
            ct = (f"application/json;g={discovery.AGGREGATED_GROUP};v={agg};"
                  f"as={discovery.AGGREGATED_AS}")
            return Response(orjson.dumps(body), headers={"content-type": ct})
        doc = self._discovery_doc(path, info)
        if doc is None:
            raise errors.NotFound("the server could not find the requested resource",
                                  details={})
        return json_response(200, doc)

    def _oidc(self, path: str) -> Response:
        """The service-account issuer's discovery documents (upstream's OIDC endpoints)."""
        headers = {"cache-control": sakeys.CACHE_CONTROL}
        if path == sakeys.JWKS_PATH:
            return Response(orjson.dumps(self.tokens.settings.keys.jwks()), headers=headers,
                            media_type=sakeys.JWKS_CONTENT_TYPE)
        doc = sakeys.discovery_document(self.config.service_account_issuers[0],
                                        self.config.server_url + sakeys.JWKS_PATH)
        return Response(doc, headers=headers, media_type="application/json")

    def _discovery_doc(self, path: str, info: RequestInfo) -> dict[str, Any] | None:
        if path == "/api":
            return discovery.api_versions()
        if path == "/apis":
            doc = discovery.api_group_list(self.scheme)
            doc["groups"].append(metrics.group_entry())
            doc["groups"] += self.aggregator.groups()
            return doc
        parts = path.strip("/").split("/")
        if parts[:2] == ["apis", metrics.GROUP]:  # metrics.k8s.io (kapi/endpoints/metrics.py)
            return {2: metrics.api_group(), 3: metrics.resource_list()}.get(len(parts)) \
                if parts[2:] in ([], [metrics.VERSION]) else None
        if parts == ["api", "v1"]:
            return discovery.api_resource_list(self.scheme, "", "v1")
        if parts[0] == "apis" and len(parts) == 2:
            return discovery.api_group(self.scheme, parts[1]) or self.aggregator.group(parts[1])
        if parts[0] == "apis" and len(parts) == 3:
            return discovery.api_resource_list(self.scheme, parts[1], parts[2])
        return None

    async def _resource(self, request: Request, info: RequestInfo, q: QueryParams) -> Response:
        if info.group == metrics.GROUP and info.version == metrics.VERSION and \
                info.resource in ("nodes", "pods") and not info.subresource:
            return json_response(200, await self.metrics.serve(
                info.verb, info.resource, info.namespace, info.name, q))
        if selfsubjectreview.serves(info.group, info.version, info.resource) and \
                not info.namespace:
            codec.refuse_table(codec.output_from_accept(request.headers.get("accept"), None))
            return json_response(201, selfsubjectreview.review(
                info.version, info.verb, info.name, await read_body(request), current_user()))
        r = self.scheme.get(info.group, info.version, info.resource)
        if r is None or (info.namespace and not r.namespaced) or (
                info.subresource and r.subresource(info.subresource) is None):
            raise errors.NotFound("the server could not find the requested resource",
                                  details={})
        if info.namespace == "" and r.namespaced and info.name and info.resource != "namespaces":
            raise errors.NotFound("the server could not find the requested resource",
                                  details={})
        verb = info.verb
        if verb not in r.verbs and not info.subresource:
            raise errors.MethodNotAllowed(
                "the server does not allow this method on the requested resource")
        if info.subresource in streams.SUBRESOURCES:  # before any body is read
            return await self.streams.http(request, info, q)
        body = await read_body(request) if request.method in ("POST", "PUT", "PATCH", "DELETE") else b""
        request.state.audited = (request.state.audited[0], info, body)
        call = Call(info=info, resource=r, query=q, dry_run_values=q.getlist("dryRun"),
                    body=body, content_type=codec.body_content_type(
                        request.headers.get("content-type"), request.headers.get("origin")),
                    user_agent=request.headers.get("user-agent", ""),
                    output=codec.output_from_accept(request.headers.get("accept"),
                                                    q.get("includeObject")))
        if verb == "watch":
            return await self._watch(call)
        if self.tokens.serves(call) or r.group == accessreview.GROUP:
            codec.refuse_table(call.output)  # never stored: no Table form
        if self.tokens.serves(call):  # TokenRequest and TokenReview: nothing is stored
            return json_response(*await self.tokens.create(call))
        if info.subresource == "log" and verb == "get":
            return await self._pod_log(call)
        if info.subresource == "proxy":
            return await self._proxy(request, call)
        if r.group == accessreview.GROUP and verb == "create":  # never stored
            return json_response(201, await self.security.reviews.create(
                info.resource, info.namespace, body, call.content_type))
        handler = getattr(self.handlers, verb, None)
        if handler is None:
            raise errors.MethodNotAllowed(f"verb {verb} is not supported")
        warned, request.state.annotations = collect_warnings(), collect_annotations()
        code, out = await handler(call)
        headers = {}
        if call.warnings or warned:
            headers["warning"] = warning_header(call.warnings + warned)
        if verb == "list" and liststream.worth_streaming(out):
            return StreamingResponse(liststream.encode_list(out), status_code=code,
                                     headers=JSON_HEADERS | headers)
        return json_response(code, out, headers)

    async def _pod_log(self, call: Call) -> Response:
        """pods/log, forwarded to the kubelet of the pod's node (kapi/endpoints/podlog.py)."""
        pod = await self.store.get(call.resource, call.namespace, call.info.name)
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            podlog.container_name(pod, call.query.get("container"))
            return Response(b"", media_type="text/plain")
        nodes = self.scheme.get("", "v1", "nodes")
        assert nodes is not None
        node = await self.store.get(nodes, None, node_name)
        http, response = await podlog.open_log(pod, node, call.query)
        return StreamingResponse(podlog.relay(http, response), media_type="text/plain")

    async def _proxy(self, request: Request, call: Call) -> Response:
        """pods/proxy, services/proxy and nodes/proxy (kapi/endpoints/proxysub.py)."""
        info = call.info
        scheme, name, port = proxysub.split_target(info.name)
        obj = await self.store.get(call.resource, call.namespace, name)
        if info.resource == "pods":
            location = proxysub.pod_location(obj, port)
        elif info.resource == "nodes":
            location = proxysub.node_location(obj, port)
        else:
            endpoints = self.scheme.get("", "v1", "endpoints")
            assert endpoints is not None
            try:
                ep = await self.store.get(endpoints, call.namespace, name)
            except errors.NotFound:
                ep = None
            location = proxysub.service_location(obj, ep, port)
        url = f"{scheme or 'http'}://{location}{proxysub.remainder(info.path, info.name)}"
        if request.scope["query_string"]:
            url += "?" + request.scope["query_string"].decode("latin-1")
        if "kapi.upgrade" in (request.scope.get("extensions") or {}):  # kapi/upgrade.py
            return await proxytunnel.tunnel(scheme, location, url.split(location, 1)[1],
                                            request.headers)
        code, headers, body = await proxysub.forward(request.method, url, request.headers,
                                                     call.body)
        response = StreamingResponse(body, status_code=code)
        response.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                                for k, v in headers]
        return response

    async def _watch(self, call: Call) -> Response:
        opts = params.list_options(call.resource, call.query, watch=True)
        bookmarks, send_initial, timeout = params.watch_flags(call.query)
        if call.info.name:  # a watch on one object: a field selector on its name
            fs = opts.field_selector
            if fs is not None and not fs.empty():
                # as upstream: the user's selector stays, if it names this same object
                if fs.requires_exact_match("metadata.name") != call.info.name:
                    raise errors.BadRequest(
                        "fieldSelector metadata.name doesn't match requested name")
            else:
                from kapi.meta.selectors import escape_field_value, parse_field_selector
                opts.field_selector = parse_field_selector(
                    f"metadata.name={escape_field_value(call.info.name)}", ())
        watcher, initial, start = await self.store.watch(call.resource, call.namespace, opts,
                                                         send_initial=send_initial)
        stream = WatchStream(store=self.store, resource=call.resource, watcher=watcher,
                             initial=initial, start_rev=start, output=call.output,
                             bookmarks=bookmarks, send_initial=bool(send_initial),
                             timeout=timeout, clock=self.clock)
        return StreamingResponse(stream.__aiter__(), media_type="application/json")


class _AnyMethod:
    """An ASGI app (not a function), so that Starlette's Route leaves methods open."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def build_app(config: Config, *, storage: Storage | None = None,
              clock: objects.Clock = objects.utc_now, scheme: Scheme = SCHEME) -> Starlette:
    server = APIServer(config, storage=storage, clock=clock, scheme=scheme)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await server.start()
        try:
            yield
        finally:
            await server.stop()

    # every method reaches handle() (authenticated first, then 405 if unknown): given a
    # plain ASGI app, a Route matches any method; given a function, Starlette itself would
    # answer 405 to unlisted methods, before authentication
    app = Starlette(routes=[Route("/{path:path}", _AnyMethod(request_response(server.handle))),
                            WebSocketRoute("/{path:path}", server.handle_websocket)],
                    lifespan=lifespan)
    app.state.server = server
    return app
