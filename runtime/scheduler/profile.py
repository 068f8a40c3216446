"""The scheduler profile: which plugins run at which extension point, in which order.

Plugins are chosen by name from the explicit table PLUGINS (never registered by import
side effects); `default_profile()` mirrors upstream's default plugin set for the plugins
kapi implements. A profile holds plugin instances and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from runtime.scheduler.framework import (
    FilterPlugin,
    PreFilterPlugin,
    ScorePlugin,
)
from runtime.scheduler.plugins.balancedallocation import BalancedAllocation
from runtime.scheduler.plugins.interpodaffinity import InterPodAffinity
from runtime.scheduler.plugins.nodeaffinity import NodeAffinity
from runtime.scheduler.plugins.nodename import NodeName
from runtime.scheduler.plugins.nodeports import NodePorts
from runtime.scheduler.plugins.noderesources import NodeResourcesFit
from runtime.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from runtime.scheduler.plugins.podtopologyspread import PodTopologySpread
from runtime.scheduler.plugins.tainttoleration import TaintToleration

PLUGINS: dict[str, Callable[[], Any]] = {
    "NodeUnschedulable": NodeUnschedulable,
    "NodeName": NodeName,
    "TaintToleration": TaintToleration,
    "NodeAffinity": NodeAffinity,
    "NodePorts": NodePorts,
    "NodeResourcesFit": NodeResourcesFit,
    "PodTopologySpread": PodTopologySpread,
    "InterPodAffinity": InterPodAffinity,
    "NodeResourcesBalancedAllocation": BalancedAllocation,
}

DEFAULT_ORDER = tuple(PLUGINS)


@dataclass
class Profile:
    scheduler_name: str = "default-scheduler"
    pre_filters: list[PreFilterPlugin] = field(default_factory=list)
    filters: list[FilterPlugin] = field(default_factory=list)
    scores: list[ScorePlugin] = field(default_factory=list)


def build_profile(names: tuple[str, ...] = DEFAULT_ORDER, *,
                  scheduler_name: str = "default-scheduler") -> Profile:
    prof = Profile(scheduler_name)
    for name in names:
        plugin = PLUGINS[name]()
        if hasattr(plugin, "pre_filter"):
            prof.pre_filters.append(plugin)
        if hasattr(plugin, "filter"):
            prof.filters.append(plugin)
        if hasattr(plugin, "score"):
            prof.scores.append(plugin)
    return prof


def default_profile() -> Profile:
    return build_profile()
