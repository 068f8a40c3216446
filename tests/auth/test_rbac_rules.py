"""The pure parts of RBAC against upstream's documented behaviour: rule matching
(wildcards, subresources, names, non-resource URLs), escalation coverage and its
message form, the policy index, the static token file and the Node authorizer's graph."""

from __future__ import annotations

import pytest

from kapi.auth import User
from kapi.auth.node import NodeAuthorizer, NodeGraph, pod_refs
from kapi.auth.rbac import bootstrap
from kapi.auth.rbac import rules as policy
from kapi.auth.rbac.authorizer import RBAC, Attrs, Authorizer, forbidden
from kapi.auth.rbac.index import PolicyIndex
from kapi.auth.tokenfile import parse as parse_tokens
from kapi.endpoints.requestinfo import named_by_selector, parse

ALICE = User("alice", ("devs", "system:authenticated"))


def res(verb: str, resource: str, ns: str = "", name: str = "", group: str = "",
        sub: str = "") -> Attrs:
    return Attrs(True, verb=verb, group=group, version="v1", namespace=ns, resource=resource,
                 subresource=sub, name=name)


@pytest.mark.parametrize("rule,attrs,allowed", [
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res("get", "pods"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res("get", "pods", sub="log"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, res("get", "pods", sub="log"), True),
    ({"verbs": ["get"], "apiGroups": ["*"], "resources": ["*/scale"]},
     res("get", "deployments", group="apps", sub="scale"), True),
    ({"verbs": ["*"], "apiGroups": ["apps"], "resources": ["*"]}, res("delete", "pods"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"]},
     res("get", "secrets", name="a"), True),
    ({"verbs": ["list"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"]},
     res("list", "secrets"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz/*"]}, Attrs(False, "/healthz/etcd", "get"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, Attrs(False, "/healthz/etcd", "get"), False),
    ({"verbs": ["get"], "apiGroups": ["*"], "resources": ["*"]}, Attrs(False, "/healthz", "get"), False),
])
def test_rule_matching(rule, attrs, allowed):
    assert policy.rule_allows(rule, attrs) is allowed


def test_missing_rules_are_compacted_as_upstream_prints_them():
    owned = [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]},
             {"verbs": ["get"], "apiGroups": ["*"], "resources": ["*/scale"]}]
    wanted = [{"verbs": ["get", "delete", "create"], "apiGroups": [""], "resources": ["pods"]},
              {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments/scale"]},
              {"verbs": ["get"], "nonResourceURLs": ["/metrics"]}]
    lacking = policy.compact(policy.missing(owned, wanted))
    assert [policy.compact_string(r) for r in lacking] == [
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete" "create"]}',
        '{NonResourceURLs:["/metrics"], Verbs:["get"]}']


def _index() -> PolicyIndex:
    idx = PolicyIndex()
    for role in bootstrap.cluster_roles():
        idx.apply("clusterroles", False, role)
    idx.apply("rolebindings", False, {
        "metadata": {"name": "devs-view", "namespace": "web"},
        "roleRef": {"kind": "ClusterRole", "name": "system:aggregate-to-view"},
        "subjects": [{"kind": "Group", "name": "devs"}]})
    idx.apply("rolebindings", False, {
        "metadata": {"name": "broken", "namespace": "web"},
        "roleRef": {"kind": "Role", "name": "nope"}, "subjects": [{"kind": "User", "name": "alice"}]})
    return idx


def test_index_reads_only_the_bindings_of_the_user_and_reports_missing_roles():
    rbac = RBAC(_index())
    allowed, reason = rbac(ALICE, res("list", "pods", ns="web"))
    assert allowed == "allow" and reason == ('RBAC: allowed by RoleBinding "devs-view/web" of '
                                             'ClusterRole "system:aggregate-to-view" to Group "devs"')
    decision, reason = rbac(ALICE, res("delete", "pods", ns="web"))
    assert decision is None
    assert reason == 'RBAC: role.rbac.authorization.k8s.io "nope" not found'
    assert rbac(User("bob"), res("list", "pods", ns="web")) == (None, "")


def test_deleted_binding_no_longer_grants():
    idx = _index()
    idx.apply("rolebindings", True, {"metadata": {"name": "devs-view", "namespace": "web"}})
    assert RBAC(idx)(ALICE, res("list", "pods", ns="web"))[0] is None
    assert idx.by_subject.get(("web", ("Group", "devs"))) is None


def test_forbidden_messages():
    a = res("get", "deployments", ns="web", name="x", group="apps", sub="scale")
    e = forbidden(ALICE, a, "")
    assert e.message == ('deployments.apps "x" is forbidden: User "alice" cannot get resource '
                         '"deployments/scale" in API group "apps" in the namespace "web"')
    assert e.details == {"name": "x", "group": "apps", "kind": "deployments"}
    e = forbidden(ALICE, res("list", "nodes"), "")
    assert e.message == ('nodes is forbidden: User "alice" cannot list resource "nodes" in API '
                         'group "" at the cluster scope')
    assert forbidden(ALICE, Attrs(False, "/metrics", "get"), "").message == \
        'forbidden: User "alice" cannot get path "/metrics"'


def test_masters_may_do_anything():
    authz = Authorizer([RBAC(PolicyIndex())])
    assert authz.decide(User("x", ("system:masters",)), res("delete", "nodes", name="n"))[0]
    assert not authz.decide(User("x"), res("delete", "nodes", name="n"))[0]


def test_token_file():
    users = parse_tokens('t1,alice,1\nt2,bob,2,"a,b"\n\n')
    assert users["t1"] == User("alice", ("system:authenticated",), "1")
    assert users["t2"].groups == ("a", "b", "system:authenticated")
    with pytest.raises(ValueError, match="must have at least 3 columns"):
        parse_tokens("t3,carol\n")


def test_node_graph():
    pod = {"metadata": {"name": "p", "namespace": "ns"},
           "spec": {"nodeName": "n1", "containers": [{"envFrom": [{"secretRef": {"name": "s1"}}]}],
                    "volumes": [{"name": "v", "configMap": {"name": "c1"}},
                                {"name": "w", "persistentVolumeClaim": {"claimName": "pvc"}}]}}
    assert pod_refs(pod) == {("secrets", "ns", "s1"), ("configmaps", "ns", "c1"),
                             ("persistentvolumeclaims", "ns", "pvc"),
                             ("serviceaccounts", "ns", "default")}
    graph = NodeGraph()
    graph.apply(False, pod)
    node = NodeAuthorizer(graph, bootstrap.node_rules())
    n1, n2 = User("system:node:n1", ("system:nodes",)), User("system:node:n2", ("system:nodes",))
    assert node(n1, res("get", "secrets", ns="ns", name="s1"))[0] == "allow"
    assert node(n2, res("get", "secrets", ns="ns", name="s1")) == (
        None, "no relationship found between node 'n2' and this object")
    assert node(n1, res("list", "secrets", ns="ns")) == (None, "No Object name found")
    # a list or watch naming one object (a metadata.name field selector) reads just it
    for verb in ("list", "watch"):
        assert node(n1, res(verb, "secrets", ns="ns", name="s1"))[0] == "allow"
        assert node(n2, res(verb, "secrets", ns="ns", name="s1"))[0] is None
    assert node(n1, res("update", "secrets", ns="ns", name="s1")) == (
        None, "can only read resources of this type")
    assert node(n1, res("update", "pods", ns="ns", name="p", sub="status"))[0] == "allow"
    # another node's pod status is the role's rule here; NodeRestriction admission refuses it
    assert node(n2, res("update", "pods", ns="ns", name="p", sub="status"))[0] == "allow"
    assert node(n2, res("get", "pods", ns="ns", name="p")) == (
        None, "no relationship found between node 'n2' and this object")
    assert node(n1, res("create", "serviceaccounts", ns="ns", name="default", sub="token"))[0] == "allow"
    graph.apply(True, pod)
    assert node(n1, res("get", "secrets", ns="ns", name="s1"))[0] is None
    assert node(User("alice"), res("get", "secrets", ns="ns", name="s1")) == (None, "")


@pytest.mark.parametrize("verb,selector,name", [
    ("GET", "metadata.name=s1", "s1"), ("GET", "metadata.name==s1,type=x", "s1"),
    ("GET", "type=x, metadata.name = s1", "s1"), ("GET", "metadata.name!=s1", ""),
    ("GET", "metadata.name=a/b", ""), ("GET", "", ""), ("POST", "metadata.name=s1", "")])
def test_a_field_selector_on_the_name_names_the_request(verb, selector, name):
    info = parse(verb, "/api/v1/namespaces/ns/secrets", False)
    assert named_by_selector(info, selector).name == name
    assert info.name == ""  # the handlers still see a collection
    watch = parse(verb, "/api/v1/namespaces/ns/secrets", True)
    assert named_by_selector(watch, selector).name == (name if verb == "GET" else "")
