"""Named kill points, so crash tests can end the process at an exact step (``UNMET_KILL_AT=name[:n]``).

Unset (always, outside tests) a checkpoint costs one dictionary lookup. Set, the n-th time the named
point is reached (default the first) the process sends itself SIGKILL: no cleanup, no flush, like the
OOM killer or a pulled plug.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

from models.settings import settings

_reached: Counter[str] = Counter()


def checkpoint(name: str) -> None:
    spec = settings().kill_at
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    _reached[name] += 1
    if _reached[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
