"""``baton worker --concurrency 1 --no-beat`` whose pool process runs every task under cProfile.

Used by ``bench/peers.py --profile celery``; the settings come from the ``BATON_*`` environment
as for any worker. The pool process sums its tasks' profiles and writes the top functions by
cumulative time to ``BENCH_PROFILE_OUT`` every 50 tasks and when it exits. A bench tool only:
it changes nothing in Baton, it connects to Celery's task signals from outside.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from celery import signals  # noqa: E402

OUT = Path(os.environ.get("BENCH_PROFILE_OUT", "worker-profile.txt"))
_profile: cProfile.Profile | None = None
_tasks = 0


@signals.task_prerun.connect
def _start(**_: Any) -> None:
    global _profile
    if _profile is None:
        _profile = cProfile.Profile()
    _profile.enable()


@signals.task_postrun.connect
def _stop(**_: Any) -> None:
    global _tasks
    if _profile is None:
        return
    _profile.disable()
    _tasks += 1
    if _tasks % 50 == 0:
        _write()


@signals.worker_process_shutdown.connect
def _write(**_: Any) -> None:
    if _profile is None or not _tasks:
        return
    buffer = io.StringIO()
    buffer.write(f"{_tasks} tasks (jobs) in the pool process\n")
    pstats.Stats(_profile, stream=buffer).strip_dirs().sort_stats("cumulative").print_stats(40)
    OUT.write_text(buffer.getvalue())


if __name__ == "__main__":
    from web.cli import main

    main(["worker", "--concurrency=1", "--no-beat", "--loglevel=WARNING"])
