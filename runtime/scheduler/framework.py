"""The scheduling framework: extension-point protocols, the Status vocabulary, cycle state.

As upstream's pkg/scheduler/framework/interface.go: a plugin implements any of
PreFilter / Filter / PreScore / Score (+ normalize), returns a `Status` whose code says
what happened (Success, Error, Unschedulable, UnschedulableAndUnresolvable, Skip), and
keeps per-cycle data in `CycleState`. Plugins are pure: they read PodInfo/NodeInfo and
never do I/O, never mutate the cache and never keep state between cycles.

For speed a Filter returns None for success (no Status object on the hot path).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from runtime.scheduler.nodeinfo import NodeInfo, PodInfo

MAX_NODE_SCORE = 100


class Code(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    SKIP = 5


@dataclass(frozen=True)
class Status:
    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def success(self) -> bool:
        return self.code == Code.SUCCESS

    @property
    def rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def message(self) -> str:
        return ", ".join(self.reasons)


SKIP = Status(Code.SKIP)
SUCCESS = Status(Code.SUCCESS)


def unschedulable(plugin: str, *reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons, plugin)


def unresolvable(plugin: str, *reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, plugin)


ALL_NODES = "framework/all-nodes"


class CycleState(dict[str, Any]):
    """Data plugins compute in PreFilter/PreScore for their Filter/Score, for one pod.
    The cycle stores every node of the snapshot under ALL_NODES (PreScore plugins only
    get the feasible ones)."""


@runtime_checkable
class Plugin(Protocol):
    name: str


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        """SKIP: this plugin's Filter has nothing to check for the pod."""


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """None when the pod fits the node, else why not."""


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        """SKIP: this plugin's Score would give every node the same score."""


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    weight: int

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """0..MAX_NODE_SCORE (before normalize)."""


@runtime_checkable
class NormalizeScorePlugin(ScorePlugin, Protocol):
    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Rescale the scores of the feasible nodes in place to 0..MAX_NODE_SCORE."""


def default_normalize(scores: list[int], *, reverse: bool = False) -> None:
    """Scale to 0..MAX_NODE_SCORE by the highest score (upstream's DefaultNormalizeScore)."""
    top = max(scores, default=0)
    if top == 0:
        if reverse:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        return
    for i, s in enumerate(scores):
        s = MAX_NODE_SCORE * s // top
        scores[i] = MAX_NODE_SCORE - s if reverse else s
