"""The REST operations kapi serves, described once for every OpenAPI rendering.

Owns: walking the scheme (kapi.meta.resources) and producing, per group/version, the
paths, operations, parameters and responses upstream's apiserver publishes — operation
ids like "patchAppsV1NamespacedDeploymentScale", x-kubernetes-action, the GVK of each
operation, the query parameters of each verb — as plain dataclasses that kapi.openapi.v2
and kapi.openapi.v3 render as Swagger 2.0 and OpenAPI 3.0. It must never render documents,
touch HTTP or read the definitions file; it names definitions only by their OpenAPI name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kapi.meta.resources import Resource, Scheme, Subresource

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
STATUS = META + "Status"
DELETE_OPTIONS = META + "DeleteOptions"
WATCH_EVENT = META + "WatchEvent"
PATCH = META + "Patch"
RESOURCE_LIST = META + "APIResourceList"
API_GROUP = META + "APIGroup"
API_GROUP_LIST = META + "APIGroupList"
API_VERSIONS = META + "APIVersions"
VERSION_INFO = "io.k8s.apimachinery.pkg.version.Info"
META_DEFINITIONS = (STATUS, DELETE_OPTIONS, WATCH_EVENT, PATCH, RESOURCE_LIST, API_GROUP,
                    API_GROUP_LIST, API_VERSIONS, VERSION_INFO)

PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")
PRODUCES = ("application/json", "application/yaml")
PRODUCES_WATCH = PRODUCES + ("application/json;stream=watch",)
# Deleting these answers with the object (it lingers while finalizers run), not a Status.
RETURNS_DELETED_OBJECT = {("", "pods"), ("", "services"), ("", "namespaces")}
# Subresource kinds whose definitions live outside the resource's own package.
SUBRESOURCE_PACKAGES = {("", "v1"): "io.k8s.api.core.v1", ("policy", "v1"): "io.k8s.api.policy.v1",
                        ("autoscaling", "v1"): "io.k8s.api.autoscaling.v1",
                        ("authentication.k8s.io", "v1"): "io.k8s.api.authentication.v1"}


# Subresources upstream describes as `connect` operations (streams to the kubelet): the
# query parameters of their *Options kind, any media type, an untyped answer.
_STREAM_FLAGS = (("stderr", "Whether the container's stderr is streamed back.", "boolean"),
                 ("stdin", "Whether the client's stdin is streamed to the container.",
                  "boolean"),
                 ("stdout", "Whether the container's stdout is streamed back.", "boolean"),
                 ("tty", "Whether the stream is a terminal (stdin, stdout and stderr in "
                  "one).", "boolean"))
_CONTAINER = ("container", "The container to connect to; optional when the pod has one.",
              "string")
CONNECT_PARAMS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "PodExecOptions": (("command", "The command to run, one argument per value; no shell "
                        "is involved.", "string"), _CONTAINER, *_STREAM_FLAGS),
    "PodAttachOptions": (_CONTAINER, *_STREAM_FLAGS),
    "PodPortForwardOptions": (("ports", "The pod ports to forward (WebSocket clients "
                               "must give them).", "integer"),),
}


@dataclass(frozen=True)
class Param:
    name: str
    location: str  # "path" or "query"
    description: str
    type: str = "string"
    required: bool = False


@dataclass
class Operation:
    method: str  # get, put, post, patch, delete
    operation_id: str
    description: str
    action: str  # x-kubernetes-action
    tag: str
    gvk: dict[str, str] | None
    responses: dict[str, tuple[str, str | None]]  # code -> (description, definition)
    params: list[Param] = field(default_factory=list)
    body: str | None = None  # request body definition
    body_required: bool = True
    consumes: tuple[str, ...] = ("*/*",)
    produces: tuple[str, ...] = PRODUCES


@dataclass
class PathItem:
    path: str
    params: list[Param] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)


def _q(name: str, description: str, type_: str = "string") -> Param:
    return Param(name, "query", description, type_)


PRETTY = _q("pretty", "If 'true', then the output is pretty printed. Defaults to 'false' unless "
            "the user-agent indicates a browser or command-line HTTP tool (curl and wget).")
NAMESPACE = Param("namespace", "path", "object name and auth scope, such as for teams and "
                  "projects", required=True)
DRY_RUN = _q("dryRun", "When present, indicates that modifications should not be persisted. An "
             "invalid or unrecognized dryRun directive will result in an error response and no "
             "further processing of the request. Valid values are: - All: all dry run stages "
             "will be processed")
FIELD_MANAGER = _q("fieldManager", "fieldManager is a name associated with the actor or entity "
                   "that is making these changes. The value must be less than or 128 characters "
                   "long, and only contain printable characters, as defined by "
                   "https://golang.org/pkg/unicode/#IsPrint.")
PATCH_FIELD_MANAGER = _q("fieldManager", FIELD_MANAGER.description + " This field is required "
                         "for apply requests (application/apply-patch) but optional for "
                         "non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).")
FIELD_VALIDATION = _q("fieldValidation", "fieldValidation instructs the server on how to handle "
                      "objects in the request (POST/PUT/PATCH) containing unknown or duplicate "
                      "fields. Valid values are: - Ignore: unknown fields are silently dropped "
                      "and all but the last duplicate field are ignored. - Warn: a warning is "
                      "sent in the standard warning response header for each unknown or "
                      "duplicate field; the request still succeeds. This is the default. - "
                      "Strict: the request fails with a BadRequest error if any unknown fields "
                      "would be dropped or any duplicate fields are present.")
FORCE = _q("force", "Force is going to \"force\" Apply requests. It means user will re-acquire "
           "conflicting fields owned by other people. Force flag must be unset for non-apply "
           "patch requests.", "boolean")
WRITE_PARAMS = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION]
PATCH_PARAMS = [DRY_RUN, PATCH_FIELD_MANAGER, FIELD_VALIDATION, FORCE]
LIST_PARAMS = [
    _q("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type \"BOOKMARK\". "
       "Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at "
       "the server's discretion. This field is ignored if watch is not specified.", "boolean"),
    _q("continue", "The continue option should be set when retrieving more results from the "
       "server. Its value is the continue token of the previous list response."),
    _q("fieldSelector", "A selector to restrict the list of returned objects by their fields. "
       "Defaults to everything."),
    _q("labelSelector", "A selector to restrict the list of returned objects by their labels. "
       "Defaults to everything."),
    _q("limit", "limit is a maximum number of responses to return for a list call. If more "
       "items exist, the server will set the `continue` field on the list metadata.", "integer"),
    _q("resourceVersion", "resourceVersion sets a constraint on what resource versions a "
       "request may be served from. Defaults to unset."),
    _q("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is applied "
       "to list calls. Defaults to unset."),
    _q("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true`. In "
       "that case, the watch stream will begin with synthetic events to produce the current "
       "state of objects in the collection, followed by a Bookmark event.", "boolean"),
    _q("timeoutSeconds", "Timeout for the list/watch call. This limits the duration of the "
       "call, regardless of any activity or inactivity.", "integer"),
    _q("watch", "Watch for changes to the described resources and return them as a stream of "
       "add, update, and remove notifications. Specify resourceVersion.", "boolean"),
]
DELETE_PARAMS = [
    DRY_RUN,
    _q("gracePeriodSeconds", "The duration in seconds before the object should be deleted. "
       "Value must be non-negative integer. The value zero indicates delete immediately.",
       "integer"),
    _q("ignoreStoreReadErrorWithClusterBreakingPotential", "if set to true, it will trigger an "
       "unsafe deletion of the resource in case the normal deletion flow fails with a corrupt "
       "object error.", "boolean"),
    _q("orphanDependents", "Deprecated: please use the PropagationPolicy, this field will be "
       "deprecated in 1.7. Should the dependent objects be orphaned.", "boolean"),
    _q("propagationPolicy", "Whether and how garbage collection will be performed. Acceptable "
       "values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage "
       "collector to delete the dependents in the background; 'Foreground' - a cascading "
       "policy that deletes all dependents in the foreground."),
]
DELETECOLLECTION_PARAMS = sorted(LIST_PARAMS + DELETE_PARAMS, key=lambda p: p.name)

OK = "OK"
UNAUTHORIZED: dict[str, tuple[str, str | None]] = {"401": ("Unauthorized", None)}


def group_camel(group: str) -> str:
    """The group as operation ids spell it: "" -> Core, rbac.authorization.k8s.io ->
    RbacAuthorization."""
    if not group:
        return "Core"
    parts = group.removesuffix(".k8s.io").split(".")
    return "".join(p[:1].upper() + p[1:] for p in parts)


def group_tag(group: str) -> str:
    camel = group_camel(group)
    return camel[:1].lower() + camel[1:]


def gv_prefix(group: str, version: str) -> str:
    return group_camel(group) + version[:1].upper() + version[1:]


def article(noun: str) -> str:
    """Upstream's getArticleForNoun: plurals get none, vowels get "an"."""
    if noun.endswith("s") and not noun.endswith("ss"):
        return ""
    return "an " if noun[:1].lower() in "aeiou" else "a "


def gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def gv_path(group: str, version: str) -> str:
    return f"/api/{version}" if not group else f"/apis/{group}/{version}"


def subresource_definition(r: Resource, s: Subresource) -> tuple[str, dict[str, str]]:
    """(definition, gvk) of the object a subresource reads and writes."""
    if not s.kind or s.kind == r.kind:
        return r.definition, gvk(r.group, r.version, r.kind)
    group, version = (s.group, s.version) if s.version else (r.group, r.version)
    package = SUBRESOURCE_PACKAGES.get((group, version), r.definition.rsplit(".", 1)[0])
    return f"{package}.{s.kind}", gvk(group, version, s.kind)


class _Builder:
    """The operations of one resource."""

    def __init__(self, r: Resource) -> None:
        self.r = r
        self.prefix = gv_prefix(r.group, r.version)
        self.tag = f"{group_tag(r.group)}_{r.version}"
        self.scoped = ("Namespaced" if r.namespaced else "") + r.kind
        self.gvk = gvk(r.group, r.version, r.kind)
        base = gv_path(r.group, r.version)
        ns = "/namespaces/{namespace}" if r.namespaced else ""
        self.collection = f"{base}{ns}/{r.resource}"
        self.watch_collection = f"{base}/watch{ns}/{r.resource}"
        self.ns_params = [NAMESPACE] if r.namespaced else []

    def op(self, method: str, verb: str, action: str, description: str,
           responses: dict[str, tuple[str, str | None]], *, gvk: dict[str, str] | None = None,
           params: list[Param] | None = None, body: str | None = None,
           body_required: bool = True, consumes: tuple[str, ...] = ("*/*",),
           produces: tuple[str, ...] = PRODUCES) -> Operation:
        return Operation(method, verb, description, action, self.tag, gvk or self.gvk,
                         responses | UNAUTHORIZED, params or [], body, body_required,
                         consumes, produces)

    def name_param(self, kind: str) -> Param:
        return Param("name", "path", f"name of the {kind}", required=True)

    def paths(self) -> list[PathItem]:
        items = [self.collection_path(), self.object_path()]
        if "watch" in self.r.verbs:
            items += self.watch_paths()
        if self.r.namespaced and "list" in self.r.verbs:
            items.append(self.all_namespaces_path())
        # proxy is a connect-style passthrough with no object schema: not described
        items += [self.subresource_path(s) for s in self.r.subresources if s.name != "proxy"]
        return [i for i in items if i.operations]

    def collection_path(self) -> PathItem:
        r, verbs = self.r, self.r.verbs
        ops = []
        if "list" in verbs:
            ops.append(self.op("get", f"list{self.prefix}{self.scoped}", "list",
                               f"list or watch objects of kind {r.kind}",
                               {"200": (OK, _list_definition(r))}, params=list(LIST_PARAMS),
                               produces=PRODUCES_WATCH))
        if "create" in verbs:
            ops.append(self.op("post", f"create{self.prefix}{self.scoped}", "post",
                               f"create {article(r.kind)}{r.kind}", _created(r.definition),
                               params=list(WRITE_PARAMS), body=r.definition))
        if "deletecollection" in verbs:
            ops.append(self.op("delete", f"delete{self.prefix}Collection{self.scoped}",
                               "deletecollection", f"delete collection of {r.kind}",
                               {"200": (OK, STATUS)}, params=list(DELETECOLLECTION_PARAMS),
                               body=DELETE_OPTIONS, body_required=False))
        return PathItem(self.collection, self.ns_params + [PRETTY], ops)

    def object_path(self) -> PathItem:
        r, verbs, name = self.r, self.r.verbs, f"{self.prefix}{self.scoped}"
        ops = []
        if "get" in verbs:
            ops.append(self.op("get", f"read{name}", "get", f"read the specified {r.kind}",
                               {"200": (OK, r.definition)}))
        if "update" in verbs:
            ops.append(self.op("put", f"replace{name}", "put", f"replace the specified {r.kind}",
                               _updated(r.definition), params=list(WRITE_PARAMS),
                               body=r.definition))
        if "patch" in verbs:
            ops.append(self.op("patch", f"patch{name}", "patch",
                               f"partially update the specified {r.kind}",
                               _updated(r.definition), params=list(PATCH_PARAMS), body=PATCH,
                               consumes=PATCH_TYPES))
        if "delete" in verbs:
            returned = r.definition if (r.group, r.resource) in RETURNS_DELETED_OBJECT else STATUS
            ops.append(self.op("delete", f"delete{name}", "delete",
                               f"delete {article(r.kind)}{r.kind}",
                               {"200": (OK, returned), "202": ("Accepted", returned)},
                               params=list(DELETE_PARAMS), body=DELETE_OPTIONS,
                               body_required=False))
        params = [self.name_param(r.kind)] + self.ns_params + [PRETTY]
        return PathItem(f"{self.collection}/{{name}}", params, ops)

    def watch_paths(self) -> list[PathItem]:
        r, name = self.r, f"{self.prefix}{self.scoped}"
        watch_list = self.op("get", f"watch{name}List", "watchlist",
                             f"watch individual changes to a list of {r.kind}. deprecated: use "
                             "the 'watch' parameter with a list operation instead.",
                             {"200": (OK, WATCH_EVENT)}, produces=PRODUCES_WATCH)
        watch_one = self.op("get", f"watch{name}", "watch",
                            f"watch changes to an object of kind {r.kind}. deprecated: use the "
                            "'watch' parameter with a list operation instead, filtered to a "
                            "single item with the 'fieldSelector' parameter.",
                            {"200": (OK, WATCH_EVENT)}, produces=PRODUCES_WATCH)
        common = list(LIST_PARAMS) + self.ns_params + [PRETTY]
        return [PathItem(self.watch_collection, common, [watch_list]),
                PathItem(f"{self.watch_collection}/{{name}}",
                         [self.name_param(r.kind)] + common, [watch_one])]

    def all_namespaces_path(self) -> PathItem:
        r, base = self.r, gv_path(self.r.group, self.r.version)
        op = self.op("get", f"list{self.prefix}{r.kind}ForAllNamespaces", "list",
                     f"list or watch objects of kind {r.kind}",
                     {"200": (OK, _list_definition(r))}, produces=PRODUCES_WATCH)
        return PathItem(f"{base}/{r.resource}", list(LIST_PARAMS) + [PRETTY], [op])

    def subresource_path(self, s: Subresource) -> PathItem:
        if s.kind in CONNECT_PARAMS:
            return self.connect_path(s)
        r, sub = self.r, s.name[:1].upper() + s.name[1:]
        definition, sub_gvk = subresource_definition(r, s)
        name, noun = f"{self.prefix}{self.scoped}{sub}", f"{s.name} of"
        ops = []
        if "get" in s.verbs:
            ops.append(self.op("get", f"read{name}", "get", f"read {noun} the specified {r.kind}",
                               {"200": (OK, definition)}, gvk=sub_gvk))
        if "create" in s.verbs:
            ops.append(self.op("post", f"create{name}", "post",
                               f"create {noun} {article(r.kind)}{r.kind}", _created(definition),
                               params=list(WRITE_PARAMS), body=definition, gvk=sub_gvk))
        if "update" in s.verbs:
            ops.append(self.op("put", f"replace{name}", "put",
                               f"replace {noun} the specified {r.kind}", _updated(definition),
                               params=list(WRITE_PARAMS), body=definition, gvk=sub_gvk))
        if "patch" in s.verbs:
            ops.append(self.op("patch", f"patch{name}", "patch",
                               f"partially update {noun} the specified {r.kind}",
                               _updated(definition), params=list(PATCH_PARAMS), body=PATCH,
                               consumes=PATCH_TYPES, gvk=sub_gvk))
        params = [self.name_param(sub_gvk["kind"])] + self.ns_params + [PRETTY]
        return PathItem(f"{self.collection}/{{name}}/{s.name}", params, ops)


    def connect_path(self, s: Subresource) -> PathItem:
        """exec, attach, portforward: upstream's connectCoreV1GetNamespacedPodExec etc."""
        sub, kind_gvk = s.name[:1].upper() + s.name[1:], gvk(self.r.group, self.r.version,
                                                                s.kind)
        ops = [Operation(m, f"connect{self.prefix}{m.title()}{self.scoped}{sub}",
                         f"connect {m.upper()} requests to {s.name} of {self.r.kind}",
                         "connect", self.tag, kind_gvk, {"200": (OK, None)} | UNAUTHORIZED,
                         consumes=("*/*",), produces=("*/*",))
               for m, verb in (("get", "get"), ("post", "create")) if verb in s.verbs]
        params = [self.name_param(s.kind)] + self.ns_params + [
            _q(n, d, t) for n, d, t in CONNECT_PARAMS[s.kind]]
        return PathItem(f"{self.collection}/{{name}}/{s.name}", params, ops)


def _list_definition(r: Resource) -> str:
    return r.definition + "List"


def _created(definition: str) -> dict[str, tuple[str, str | None]]:
    return {"200": (OK, definition), "201": ("Created", definition),
            "202": ("Accepted", definition)}


def _updated(definition: str) -> dict[str, tuple[str, str | None]]:
    return {"200": (OK, definition), "201": ("Created", definition)}


def resource_paths(r: Resource) -> list[PathItem]:
    """Every path serving one resource (collection, object, watch, subresources)."""
    return _Builder(r).paths()


def discovery_path(group: str, version: str) -> PathItem:
    """GET /apis/<group>/<version>/ (or /api/v1/): the group/version's resource list."""
    op = Operation("get", f"get{gv_prefix(group, version)}APIResources",
                   "get available resources", "", f"{group_tag(group)}_{version}", None,
                   {"200": (OK, RESOURCE_LIST)} | UNAUTHORIZED, consumes=PRODUCES)
    return PathItem(gv_path(group, version) + "/", [], [op])


def group_path(group: str) -> PathItem:
    """GET /apis/<group>/ (or /api/ for the core group)."""
    if not group:
        op = Operation("get", "getCoreAPIVersions", "get available API versions", "", "core",
                       None, {"200": (OK, API_VERSIONS)} | UNAUTHORIZED, consumes=PRODUCES)
        return PathItem("/api/", [], [op])
    op = Operation("get", f"get{group_camel(group)}APIGroup", "get information of a group", "",
                   group_tag(group), None, {"200": (OK, API_GROUP)} | UNAUTHORIZED,
                   consumes=PRODUCES)
    return PathItem(f"/apis/{group}/", [], [op])


def root_paths() -> list[PathItem]:
    """GET /apis/ (the group list) and GET /version/."""
    groups = Operation("get", "getAPIVersions", "get available API versions", "", "apis", None,
                       {"200": (OK, API_GROUP_LIST)} | UNAUTHORIZED, consumes=PRODUCES)
    version = Operation("get", "getCodeVersion", "get the version information for this server",
                        "", "version", None, {"200": (OK, VERSION_INFO)} | UNAUTHORIZED,
                        consumes=("application/json",), produces=("application/json",))
    return [PathItem("/apis/", [], [groups]), PathItem("/version/", [], [version])]


def group_versions(scheme: Scheme) -> list[tuple[str, str]]:
    """Every served (group, version), core first, in discovery order."""
    out: list[tuple[str, str]] = [("", v) for v in scheme.versions("")]
    for g in scheme.groups():
        out += [(g, v) for v in scheme.versions(g)]
    return out


def gv_paths(scheme: Scheme, group: str, version: str) -> list[PathItem]:
    """The discovery path and every resource path of one group/version."""
    items = [discovery_path(group, version)]
    for r in scheme.in_group_version(group, version):
        items += resource_paths(r)
    return items


def all_paths(scheme: Scheme) -> list[PathItem]:
    """Everything the Swagger 2.0 document lists."""
    items = root_paths()
    groups = [""] + scheme.groups()
    items += [group_path(g) for g in groups]
    for g, v in group_versions(scheme):
        items += gv_paths(scheme, g, v)
    return items


def referenced_definitions(paths: list[PathItem]) -> set[str]:
    """Definitions the operations of paths name directly."""
    out: set[str] = set()
    for item in paths:
        for op in item.operations:
            if op.body:
                out.add(op.body)
            out.update(d for _, d in op.responses.values() if d)
    return out
