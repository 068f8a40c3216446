"""Upstream's kubelet back-off (client-go flowcontrol.Backoff), with time passed in.

A key (pod uid + container name, or an image) starts at `initial` seconds and doubles on
each `next` up to `maximum`; an entry not touched for 2 x maximum starts over. It must
never read a clock: callers pass the event time and `now` as epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INITIAL = 10.0
MAXIMUM = 300.0


@dataclass
class Backoff:
    initial: float = INITIAL
    maximum: float = MAXIMUM
    entries: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (delay, at)

    def _expired(self, key: str, at: float) -> bool:
        entry = self.entries.get(key)
        return entry is None or at - entry[1] > 2 * self.maximum

    def in_backoff_since(self, key: str, at: float, now: float) -> bool:
        """True while `now` is within the key's current delay after `at`."""
        if self._expired(key, at):
            return False
        return now - at < self.entries[key][0]

    def delay(self, key: str) -> float:
        entry = self.entries.get(key)
        return entry[0] if entry else 0.0

    def next(self, key: str, at: float) -> None:
        """Record a retry at `at`: the first delay, or the doubled one."""
        if self._expired(key, at):
            self.entries[key] = (self.initial, at)
        else:
            self.entries[key] = (min(self.entries[key][0] * 2, self.maximum), at)

    def forget(self, prefix: str) -> None:
        for key in [k for k in self.entries if k.startswith(prefix)]:
            del self.entries[key]


def duration(seconds: float) -> str:
    """A Go time.Duration string as the kubelet prints it: 10s, 2m40s, 5m0s."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    return f"{whole // 60}m{whole % 60}s"
