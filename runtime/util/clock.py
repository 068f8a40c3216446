"""The one clock the components read: a callable returning an aware UTC datetime.

Reconcile logic never calls datetime.now() or time.time() itself; it is handed a Clock
(the controller manager's, or a fake in tests) so that time can be moved in tests.
`seconds` turns a Clock into the float timer that expectations and back-offs count
with.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def seconds(clock: Clock) -> Callable[[], float]:
    """A float-seconds timer reading `clock` (for elapsed-time arithmetic)."""
    return lambda: clock().timestamp()
