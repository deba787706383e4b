"""Python endpoint handlers for the end-to-end tests (bound in ``tests/endpoints_e2e.toml``).

``parallel_ten.bpmn`` has ten branches, each on its own topic ``branch-N`` bound to ``branch_N``
here, so a handler knows which branch it serves without reading anything but its own name. Every
handler sleeps until the next whole second before it returns: the branches that run at the same
time (one per worker pool process) finish at the same moment, so their results reach the
instance together and the engine has to serialize concurrent ``complete_job`` calls on one
instance row.
"""

from __future__ import annotations

import os
import time
from typing import Any

#: Never finish closer than this to the boundary we aim at: the sleep must really line up.
MIN_SLEEP_SECONDS = 0.2


def sleep_to_next_second() -> float:
    """Sleep until the next whole second of the wall clock (shared by every process); return it."""
    now = time.time()
    target = float(int(now) + 1)
    if target - now < MIN_SLEEP_SECONDS:
        target += 1.0
    time.sleep(target - now)
    return target


def _finish(branch: int) -> dict[str, Any]:
    finished_at = sleep_to_next_second()
    return {f"result_{branch}": {"branch": branch, "finished_at": finished_at,
                                  "pid": os.getpid(), "worker_pid": os.getppid()}}


def branch_1(variables: dict[str, Any]) -> dict[str, Any]:
    return _finish(1)


def branch_2(variables: dict[str, Any]) -> dict[str, Any]:
    return _finish(2)


def branch_3(variables: dict[str, Any]) -> dict[str, Any]:
    return _finish(3)


def branch_4(variables: dict[str, Any]) -> dict[str, Any]:
    return _finish(4)


def branch_5(variables: dict[str, Any]) -> dict[str, Any]:
    return _finish(5)


def branch_6(variables: dict[str, Any]) -> dict[str, Any]:
    return _finish(6)


def branch_7(variables: dict[str, Any]) -> dict[str, Any]:
    return _finish(7)


def branch_8(variables: dict[str, Any]) -> dict[str, Any]:
    return _finish(8)


def branch_9(variables: dict[str, Any]) -> dict[str, Any]:
    return _finish(9)


def branch_10(variables: dict[str, Any]) -> dict[str, Any]:
    return _finish(10)
