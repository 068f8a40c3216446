"""Each scheduler plugin over plain dicts: filter verdicts, upstream reasons, scores."""

from __future__ import annotations

from runtime.scheduler.framework import Code, CycleState
from runtime.scheduler.plugins.balancedallocation import BalancedAllocation
from runtime.scheduler.plugins.interpodaffinity import InterPodAffinity
from runtime.scheduler.plugins.nodeaffinity import NodeAffinity
from runtime.scheduler.plugins.nodename import NodeName
from runtime.scheduler.plugins.nodeports import NodePorts
from runtime.scheduler.plugins.noderesources import NodeResourcesFit
from runtime.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from runtime.scheduler.plugins.podtopologyspread import PodTopologySpread
from runtime.scheduler.plugins.tainttoleration import TaintToleration
from runtime.util.tolerations import tolerates
from tests.scheduler.factory import info, node, node_info, pod

NOSCHED = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


def run_filter(plugin, p, *nodes):  # type: ignore[no-untyped-def]
    """PreFilter over `nodes` (the snapshot), then Filter on each: statuses by node."""
    state, pi = CycleState(), info(p)
    pre = getattr(plugin, "pre_filter", None)
    if pre is not None and pre(state, pi, list(nodes)).code == Code.SKIP:
        return {n.name: None for n in nodes}
    return {n.name: plugin.filter(state, pi, n) for n in nodes}


# -- NodeResourcesFit --------------------------------------------------------------------
def test_fit_counts_requests_of_pods_already_on_the_node() -> None:
    n = node_info(node("n1", cpu="2", memory="1Gi"), pod("a", cpu="1500m", node_name="n1"))
    ok = run_filter(NodeResourcesFit(), pod("p", cpu="500m"), n)["n1"]
    no = run_filter(NodeResourcesFit(), pod("p", cpu="501m", memory="2Gi"), n)["n1"]
    assert ok is None
    assert no is not None and no.code == Code.UNSCHEDULABLE
    assert no.reasons == ("Insufficient cpu", "Insufficient memory")


def test_fit_counts_pods() -> None:
    n = node_info(node("n1", pods="1"), pod("a", node_name="n1"))
    st = run_filter(NodeResourcesFit(), pod("p"), n)["n1"]
    assert st is not None and st.reasons == ("Too many pods",)


def test_fit_extended_resources_and_init_containers() -> None:
    n = node_info(node("n1", cpu="2"))
    gpu = pod("p")
    gpu["spec"]["containers"][0]["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
    assert run_filter(NodeResourcesFit(), gpu, n)["n1"].reasons == (  # type: ignore[union-attr]
        "Insufficient nvidia.com/gpu",)
    init = pod("q", cpu="100m", initContainers=[
        {"name": "i", "image": "x", "resources": {"requests": {"cpu": "3"}}}])
    assert run_filter(NodeResourcesFit(), init, n)["n1"].reasons == (  # type: ignore[union-attr]
        "Insufficient cpu",)


def test_least_allocated_prefers_the_emptier_node() -> None:
    busy = node_info(node("busy"), pod("a", cpu="3", memory="6Gi", node_name="busy"))
    empty = node_info(node("empty"))
    p, fit = info(pod("p", cpu="100m")), NodeResourcesFit()
    assert fit.score(CycleState(), p, empty) > fit.score(CycleState(), p, busy)


def test_balanced_allocation_prefers_even_use() -> None:
    skewed = node_info(node("s"), pod("a", cpu="3", memory="100Mi", node_name="s"))
    even = node_info(node("e"), pod("b", cpu="2", memory="4Gi", node_name="e"))
    p, ba = info(pod("p", cpu="100m", memory="100Mi")), BalancedAllocation()
    assert ba.score(CycleState(), p, even) > ba.score(CycleState(), p, skewed)


# -- NodeName / NodeUnschedulable --------------------------------------------------------
def test_node_name() -> None:
    got = run_filter(NodeName(), pod("p", node_name="b"), node_info(node("a")),
                     node_info(node("b")))
    assert got["b"] is None
    assert got["a"] is not None and got["a"].code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert got["a"].reasons == ("node(s) didn't match the requested node name",)


def test_node_unschedulable_unless_tolerated() -> None:
    n = node_info(node("a", unschedulable=True))
    st = run_filter(NodeUnschedulable(), pod("p"), n)["a"]
    assert st is not None and st.reasons == ("node(s) were unschedulable",)
    tol = pod("p", tolerations=[{"key": "node.kubernetes.io/unschedulable",
                                 "operator": "Exists", "effect": "NoSchedule"}])
    assert run_filter(NodeUnschedulable(), tol, n)["a"] is None


# -- TaintToleration ---------------------------------------------------------------------
def test_untolerated_taint_reason_names_the_taint() -> None:
    cp = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    st = run_filter(TaintToleration(), pod("p"), node_info(node("a", taints=[cp])))["a"]
    assert st is not None and st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert st.reasons == ("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",)


def test_tolerations_match_as_upstream() -> None:
    assert tolerates({"key": "dedicated", "operator": "Equal", "value": "gpu"}, NOSCHED)
    assert not tolerates({"key": "dedicated", "value": "cpu"}, NOSCHED)
    assert tolerates({"operator": "Exists"}, NOSCHED)
    assert not tolerates({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"},
                         NOSCHED)
    prefer = {"key": "k", "effect": "PreferNoSchedule"}
    got = run_filter(TaintToleration(), pod("p"), node_info(node("a", taints=[prefer])))
    assert got["a"] is None  # PreferNoSchedule only lowers the score


def test_prefer_no_schedule_lowers_the_score() -> None:
    tt, p = TaintToleration(), info(pod("p"))
    nodes = [node_info(node("clean")),
             node_info(node("tainted", taints=[{"key": "k", "effect": "PreferNoSchedule"}]))]
    state = CycleState()
    assert tt.pre_score(state, p, nodes).code == Code.SUCCESS
    scores = [tt.score(state, p, n) for n in nodes]
    tt.normalize(state, p, scores)
    assert scores == [100, 0]


# -- NodeAffinity ------------------------------------------------------------------------
def test_node_selector_and_required_affinity() -> None:
    ssd, hdd = node_info(node("ssd", labels={"disk": "ssd", "zone": "a"})), node_info(
        node("hdd", labels={"disk": "hdd", "zone": "b"}))
    got = run_filter(NodeAffinity(), pod("p", nodeSelector={"disk": "ssd"}), ssd, hdd)
    assert got["ssd"] is None
    assert got["hdd"] is not None
    assert got["hdd"].reasons == ("node(s) didn't match Pod's node affinity/selector",)
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "zone", "operator": "NotIn", "values": ["a"]}]}]}}}
    got = run_filter(NodeAffinity(), pod("q", affinity=aff), ssd, hdd)
    assert got["ssd"] is not None and got["hdd"] is None


def test_preferred_node_affinity_scores() -> None:
    na, state = NodeAffinity(), CycleState()
    aff = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [
            {"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}}
    p = info(pod("p", affinity=aff))
    nodes = [node_info(node("hdd", labels={"disk": "hdd"})),
             node_info(node("ssd", labels={"disk": "ssd"}))]
    assert na.pre_score(state, p, nodes).code == Code.SUCCESS
    scores = [na.score(state, p, n) for n in nodes]
    na.normalize(state, p, scores)
    assert scores == [0, 100]


# -- NodePorts ---------------------------------------------------------------------------
def test_host_ports_conflict() -> None:
    def with_port(name: str, port: int, ip: str = "", proto: str = "TCP", **kw: str):  # type: ignore[no-untyped-def]
        p = pod(name, **kw)
        p["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": port,
                                                "hostIP": ip, "protocol": proto}]
        return p
    n = node_info(node("a"), with_port("web", 8080, node_name="a"))
    assert run_filter(NodePorts(), with_port("p", 8080), n)["a"] is not None
    assert run_filter(NodePorts(), with_port("p", 8081), n)["a"] is None
    assert run_filter(NodePorts(), with_port("p", 8080, proto="UDP"), n)["a"] is None
    st = run_filter(NodePorts(), with_port("p", 8080, ip="10.0.0.1"), n)["a"]
    assert st is not None
    assert st.reasons == ("node(s) didn't have free ports for the requested pod ports",)


# -- InterPodAffinity --------------------------------------------------------------------
ANTI = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"labelSelector": {"matchLabels": {"app": "web"}},
     "topologyKey": "kubernetes.io/hostname"}]}}


def test_anti_affinity_on_hostname() -> None:
    a = node_info(node("a"), pod("w1", labels={"app": "web"}, node_name="a"))
    b = node_info(node("b"))
    got = run_filter(InterPodAffinity(), pod("w2", labels={"app": "web"}, affinity=ANTI), a, b)
    assert got["b"] is None
    assert got["a"] is not None and got["a"].code == Code.UNSCHEDULABLE
    assert got["a"].reasons == ("node(s) didn't match pod anti-affinity rules",)


def test_existing_pods_anti_affinity_is_symmetric() -> None:
    a = node_info(node("a"), pod("w1", labels={"app": "web"}, affinity=ANTI, node_name="a"))
    got = run_filter(InterPodAffinity(), pod("w2", labels={"app": "web"}), a,
                     node_info(node("b")))
    assert got["a"] is not None
    assert got["a"].reasons == ("node(s) didn't satisfy existing pods anti-affinity rules",)
    assert got["b"] is None


def test_anti_affinity_other_namespace_does_not_count() -> None:
    a = node_info(node("a"), pod("w1", ns="other", labels={"app": "web"}, node_name="a"))
    got = run_filter(InterPodAffinity(), pod("w2", labels={"app": "web"}, affinity=ANTI), a)
    assert got["a"] is None


def test_required_pod_affinity() -> None:
    aff = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}]}}
    a = node_info(node("a", labels={"zone": "z1"}), pod("db", labels={"app": "db"},
                                                        node_name="a"))
    b = node_info(node("b", labels={"zone": "z1"}))
    c = node_info(node("c", labels={"zone": "z2"}))
    got = run_filter(InterPodAffinity(), pod("app", affinity=aff), a, b, c)
    assert got["a"] is None and got["b"] is None
    assert got["c"] is not None and got["c"].code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert got["c"].reasons == ("node(s) didn't match pod affinity rules",)
    # the first pod of a group that selects itself may go anywhere
    first = pod("db2", labels={"app": "db"}, affinity=aff)
    assert set(run_filter(InterPodAffinity(), first, b, c).values()) == {None}


# -- PodTopologySpread -------------------------------------------------------------------
def spread(max_skew: int = 1, key: str = "kubernetes.io/hostname",
           when: str = "DoNotSchedule") -> list[dict[str, object]]:
    return [{"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
             "labelSelector": {"matchLabels": {"app": "web"}}}]


def test_topology_spread_do_not_schedule() -> None:
    a = node_info(node("a"), pod("w1", labels={"app": "web"}, node_name="a"))
    b = node_info(node("b"))
    p = pod("w2", labels={"app": "web"}, topologySpreadConstraints=spread())
    got = run_filter(PodTopologySpread(), p, a, b)
    assert got["b"] is None
    assert got["a"] is not None and got["a"].code == Code.UNSCHEDULABLE
    assert got["a"].reasons == ("node(s) didn't match pod topology spread constraints",)
    relaxed = pod("w3", labels={"app": "web"}, topologySpreadConstraints=spread(max_skew=2))
    assert run_filter(PodTopologySpread(), relaxed, a, b)["a"] is None


def test_topology_spread_missing_label() -> None:
    p = pod("w", labels={"app": "web"}, topologySpreadConstraints=spread(key="zone"))
    st = run_filter(PodTopologySpread(), p, node_info(node("a")))["a"]
    assert st is not None and st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert st.reasons == (
        "node(s) didn't match pod topology spread constraints (missing required label)",)


def test_topology_spread_schedule_anyway_scores_the_emptier_domain() -> None:
    pts, state = PodTopologySpread(), CycleState()
    a = node_info(node("a"), pod("w1", labels={"app": "web"}, node_name="a"))
    b = node_info(node("b"))
    p = info(pod("w2", labels={"app": "web"},
                 topologySpreadConstraints=spread(when="ScheduleAnyway")))
    assert pts.pre_filter(state, p, [a, b]).code == Code.SKIP
    assert pts.pre_score(state, p, [a, b]).code == Code.SUCCESS
    scores = [pts.score(state, p, n) for n in (a, b)]
    pts.normalize(state, p, scores)
    assert scores[1] > scores[0]


def test_preferred_pod_affinity_and_anti_affinity_score() -> None:
    ipa, state = InterPodAffinity(), CycleState()
    near = {"podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "db"}},
                                "topologyKey": "kubernetes.io/hostname"}}
    affinity = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        dict(near, weight=50)]},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {
                "app": "noisy"}}, "topologyKey": "kubernetes.io/hostname"}}]}}
    nodes = [node_info(node("db"), pod("d", labels={"app": "db"}, node_name="db")),
             node_info(node("plain")),
             node_info(node("noisy"), pod("n", labels={"app": "noisy"}, node_name="noisy"))]
    p = info(pod("app", affinity=affinity))
    assert ipa.pre_score(state, p, nodes).code == Code.SUCCESS
    scores = [ipa.score(state, p, n) for n in nodes]
    ipa.normalize(state, p, scores)
    assert scores[0] > scores[1] > scores[2] and scores == [100, 66, 0]
