"""build_app(config) -> the API server as a Starlette (ASGI) application.

The request pipeline, in order: request info -> authentication -> authorization ->
handler (decode, admission, validation, storage) -> encode. Authentication and
authorization are pluggable steps from kapi.auth (today: everyone is an anonymous cluster
admin over plain HTTP on loopback) so TLS, tokens and RBAC slot in without touching handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, AsyncIterator

import orjson
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from kapi import discovery, errors, malloc
from kapi.admission import apiserverendpoints, lifecycle, podclasses, timestamps
from kapi.admission.serviceips import ServiceAllocator
from kapi.auth import Authenticate, Authorize, allow_all, anonymous_admin, set_current_user
from kapi.config import Config
from kapi.defaulting import PodAdmission
from kapi.endpoints import codec, liststream, metrics, params, podlog, proxysub, streams, upgrade
from kapi.endpoints.body import read_body
from kapi.endpoints.handlers import Call, Handlers
from kapi.endpoints.requestinfo import RequestInfo, parse
from kapi.endpoints.watch import WatchStream
from kapi.meta import objects
from kapi.meta.resources import Scheme
from kapi.meta.schema import load_definitions
from kapi.openapi.serving import OpenAPIServer
from kapi.patch.managedfields import Tracker
from kapi.registry import bootstrap
from kapi.registry.kinds import SCHEME
from kapi.registry.legacy_keys import move_legacy_keys
from kapi.registry.store import Admit, Finalize, Store
from kapi.registry.writesteps import Validate
from kapi.storage import EtcdOptions, open_storage
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
                 authenticate: Authenticate = anonymous_admin,
                 authorize: Authorize = allow_all) -> None:
        self.config, self.scheme, self.clock = config, scheme, clock
        self.storage = storage or open_storage(config.storage, data_dir=config.data_dir,
                                               etcd=_etcd_options(config))
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
            "Priority": podclasses.Priority(self.cache, scheme),
            "RuntimeClass": podclasses.RuntimeClass(self.cache, scheme),
            "StatusTimestamps": timestamps.StatusTimestamps(clock)}
        self.store = Store(storage=self.storage, cache=self.cache, scheme=scheme, clock=clock,
                           admit=[lifecycle.NamespaceLifecycle(self.cache, scheme)],
                           plugins=plugins, finalize=finalize)
        self.handlers = Handlers(store=self.store, scheme=scheme, definitions=self.definitions,
                                 clock=clock, validator=self.validator,
                                 validation=config.validation, tracker=tracker)
        self.openapi = OpenAPIServer(scheme, self.definitions)
        self.metrics = metrics.MetricsAPI(
            store_get=self.store.get, store_list=self.store.list,
            rows={r: scheme.get("", "v1", r) for r in ("pods", "nodes")},  # type: ignore[misc]
            now=lambda: objects.rfc3339(clock()))
        self.streams = streams.StreamEndpoints(store=self.store, scheme=scheme)
        self.authenticate, self.authorize = authenticate, authorize
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        await self.storage.start()
        await move_legacy_keys(self.storage, list(self.scheme.resources))  # before the cache
        await self.cache.start()
        await lifecycle.bootstrap(self.store, self.scheme, api_port=self.config.port)
        await bootstrap.ensure_defaults(self.store, self.scheme, objects.rfc3339(self.clock()),
                                        self.config.service_cidr.split(","))
        await apiserverendpoints.reconcile(self.store, self.scheme, host=self.config.host,
                                           port=self.config.port)
        self._tasks.append(asyncio.create_task(compact_loop(
            self.storage, interval=self.config.compact_interval,
            keep_revisions=self.config.compact_keep,
            keep_seconds=self.config.compact_keep_seconds,
            on_compacted=self._compacted), name="compactor"))

    def _compacted(self, revision: int) -> None:
        self.cache.forget_before(revision)  # the window's older events: 410 anyway
        malloc.trim()  # what they held goes back to the system

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await self.metrics.close()
        await self.cache.close()
        await self.storage.close()

    # -- requests -----------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        try:
            return await self._serve(request)
        except errors.APIError as e:
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
        try:
            q = _Query(ws.scope["query_string"])
            user = await self.authenticate(ws)
            await self.authorize(user, info)
            set_current_user(user)
            await self.streams.websocket(ws, info, q)
        except errors.APIError as e:
            if ws.client_state.name == "CONNECTING":
                await ws.send_denial_response(error_response(e))
        except Exception:  # a bug: the client still gets a Status
            log.exception("internal error serving websocket %s", ws.url.path)
            if ws.client_state.name == "CONNECTING":
                await ws.send_denial_response(error_response(
                    errors.InternalError("Internal error occurred")))

    async def _serve(self, request: Request) -> Response:
        path = request.scope["path"]  # cheaper than building request.url
        q = _Query(request.scope["query_string"])
        info = parse(request.method, path, params.watch_requested(q))
        user = await self.authenticate(request)
        await self.authorize(user, info)
        set_current_user(user)
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
        if path.startswith("/openapi/"):
            return self.openapi.serve(request, path)
        accept = request.headers.get("accept", "")
        agg = discovery.aggregated_version_wanted(accept)
        if path in ("/api", "/apis") and agg:
            body = discovery.aggregated(self.scheme, core=path == "/api", version=agg)
            if path == "/apis":
                body["items"].append(metrics.aggregated_item())
            ct = (f"application/json;g={discovery.AGGREGATED_GROUP};v={agg};"
                  f"as={discovery.AGGREGATED_AS}")
            return Response(orjson.dumps(body), headers={"content-type": ct})
        doc = self._discovery_doc(path, info)
        if doc is None:
            raise errors.NotFound("the server could not find the requested resource",
                                  details={})
        return json_response(200, doc)

    def _discovery_doc(self, path: str, info: RequestInfo) -> dict[str, Any] | None:
        if path == "/api":
            return discovery.api_versions()
        if path == "/apis":
            doc = discovery.api_group_list(self.scheme)
            doc["groups"].append(metrics.group_entry())
            return doc
        parts = path.strip("/").split("/")
        if parts[:2] == ["apis", metrics.GROUP]:  # metrics.k8s.io (kapi/endpoints/metrics.py)
            return {2: metrics.api_group(), 3: metrics.resource_list()}.get(len(parts)) \
                if parts[2:] in ([], [metrics.VERSION]) else None
        if parts == ["api", "v1"]:
            return discovery.api_resource_list(self.scheme, "", "v1")
        if parts[0] == "apis" and len(parts) == 2:
            return discovery.api_group(self.scheme, parts[1])
        if parts[0] == "apis" and len(parts) == 3:
            return discovery.api_resource_list(self.scheme, parts[1], parts[2])
        return None

    async def _resource(self, request: Request, info: RequestInfo, q: QueryParams) -> Response:
        if info.group == metrics.GROUP and info.version == metrics.VERSION and \
                info.resource in ("nodes", "pods") and not info.subresource:
            return json_response(200, await self.metrics.serve(
                info.verb, info.resource, info.namespace, info.name, q))
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
        call = Call(info=info, resource=r, query=q, dry_run_values=q.getlist("dryRun"),
                    body=body, content_type=codec.body_content_type(
                        request.headers.get("content-type"), request.headers.get("origin")),
                    user_agent=request.headers.get("user-agent", ""),
                    output=codec.output_from_accept(request.headers.get("accept"),
                                                    q.get("includeObject")))
        if verb == "watch":
            return await self._watch(call)
        if info.subresource == "log" and verb == "get":
            return await self._pod_log(call)
        if info.subresource == "proxy":
            return await self._proxy(request, call)
        handler = getattr(self.handlers, verb, None)
        if handler is None:
            raise errors.MethodNotAllowed(f"verb {verb} is not supported")
        code, out = await handler(call)
        headers = {}
        if call.warnings:
            headers["warning"] = warning_header(call.warnings)
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
        """pods/proxy and services/proxy (kapi/endpoints/proxysub.py)."""
        info = call.info
        scheme, name, port = proxysub.split_target(info.name)
        obj = await self.store.get(call.resource, call.namespace, name)
        if info.resource == "pods":
            location = proxysub.pod_location(obj, port)
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

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(routes=[Route("/{path:path}", server.handle, methods=methods),
                            WebSocketRoute("/{path:path}", server.handle_websocket)],
                    lifespan=lifespan)
    app.state.server = server
    return app
