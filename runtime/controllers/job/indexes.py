"""Completion indexes of Indexed Jobs: the `completedIndexes` interval syntax
("0-2,5"), a pod's index annotation, the lowest pending indexes, and which active pods
are surplus (an invalid index, or a second pod for the same index) — upstream
indexed_job_utils.go.

Pure functions; must never do I/O or mutate inputs.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from runtime.util.meta import annotations_of, labels_of

Obj = dict[str, Any]

INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
INDEX_LABEL = "batch.kubernetes.io/job-completion-index"


def parse_indexes(s: str | None, completions: int) -> set[int]:
    """The indexes in s below completions; malformed pieces are skipped, as upstream."""
    out: set[int] = set()
    for part in (s or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi) if hi else int(lo)
        except ValueError:
            continue
        out.update(range(max(first, 0), min(last, completions - 1) + 1))
    return out


def format_indexes(indexes: Iterable[int]) -> str:
    """Sorted runs: "1-3,5"; a run of two or more uses a dash."""
    runs: list[list[int]] = []
    for i in sorted(set(indexes)):
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def index_of(pod: Mapping[str, Any]) -> int | None:
    """The pod's completion index (annotation first, then label); None if unknown."""
    raw = annotations_of(pod).get(INDEX_ANNOTATION) or labels_of(pod).get(INDEX_LABEL)
    try:
        ix = int(raw) if raw is not None else -1
    except ValueError:
        return None
    return ix if ix >= 0 else None


def valid_index(pod: Mapping[str, Any], completions: int) -> int | None:
    ix = index_of(pod)
    return ix if ix is not None and ix < completions else None


def first_pending(completions: int, succeeded: set[int], active: Iterable[Obj],
                  count: int) -> list[int]:
    """The lowest `count` indexes neither succeeded nor held by an active pod."""
    taken = set(succeeded) | {ix for p in active if (ix := valid_index(p, completions)) is not None}
    out: list[int] = []
    for ix in range(completions):
        if len(out) >= count:
            break
        if ix not in taken:
            out.append(ix)
    return out


def surplus_pods(active: list[Obj], completions: int,
                 order_key: Any) -> tuple[list[Obj], list[Obj]]:
    """(pods to remove, pods to keep): invalid indexes all go; per index the pod that
    sorts last under order_key (the most established one) stays."""
    rm: list[Obj] = []
    by_index: dict[int, list[Obj]] = {}
    for p in active:
        ix = valid_index(p, completions)
        if ix is None:
            rm.append(p)
        else:
            by_index.setdefault(ix, []).append(p)
    keep: list[Obj] = []
    for ix in sorted(by_index):
        pods = sorted(by_index[ix], key=order_key)
        rm.extend(pods[:-1])
        keep.append(pods[-1])
    return rm, keep
