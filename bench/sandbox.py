"""What one script or expression evaluation costs: in this process, in a warm sandbox, cold.

    .venv/bin/python bench/sandbox.py [--rounds 200] [--cold 5] [--burn]

- **in-process**: ``approved == True`` through ``engine/_bpmn/expressions.py`` (no process hop);
- **warm sandbox**: the same expression, and a one-line script, sent to a ready pool child;
- **cold start**: start a sandbox child until it says ready, then one evaluation (what a pool
  pays once per child, in the background); and, for reference, the start of the sandbox before
  the pool (a ``multiprocessing`` spawn child importing ``engine``), which every evaluation
  after a timeout and every CLI command paid inside the 2 s limit.

``--burn`` runs it all again with a CPU burner on every core (``bench/burn.py``).
Prints a table of medians and 95th percentiles in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.burn import start_burners, stop_burners  # noqa: E402
from engine._bpmn import expressions  # noqa: E402
from engine._bpmn.sandbox_pool import SandboxPool  # noqa: E402

DATA = {"approved": True, "amount": 42, "order": {"id": "o-1"}}


def timed(rounds: int, action: Callable[[], object]) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def cold_once() -> None:
    pool = SandboxPool(size=1)
    try:
        pool.run("eval", "approved == True", DATA)  # waits for the start, then evaluates
    finally:
        pool.close()


def _old_child(conn: object) -> None:  # what the old child imported before it could answer
    import engine._bpmn.sandbox  # noqa: F401

    conn.send(True)  # type: ignore[attr-defined]


def old_spawn_once() -> None:
    """The sandbox before the pool: a ``multiprocessing`` spawn child that imported ``engine``."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_old_child, args=(child,), daemon=True)
    process.start()
    parent.recv()
    process.kill()
    process.join()


def measure(rounds: int, cold: int) -> list[tuple[str, list[float]]]:
    pool = SandboxPool(size=1)
    assert pool.wait_ready(120), "no sandbox started"
    pool.run("eval", "1", {})
    rows = [
        ("in-process  approved == True", timed(rounds * 10, lambda: expressions.evaluate("approved == True", DATA))),
        ("in-process  order['id'] == 'o-1'",
         timed(rounds * 10, lambda: expressions.evaluate("order['id'] == 'o-1'", DATA))),
        ("warm sandbox  approved == True", timed(rounds, lambda: pool.run("eval", "approved == True", DATA))),
        ("warm sandbox  script total = amount * 2",
         timed(rounds, lambda: pool.run("exec", "total = amount * 2", DATA))),
        ("cold start + evaluation", timed(cold, cold_once)),
        ("(before: spawn child importing engine)", timed(cold, old_spawn_once)),
    ]
    pool.close()
    return rows


def report(title: str, rows: list[tuple[str, list[float]]]) -> None:
    print(f"\n{title}")
    print(f"{'evaluation':<42} {'n':>6} {'median ms':>10} {'p95 ms':>10}")
    for name, samples in rows:
        p95 = sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]
        print(f"{name:<42} {len(samples):>6} {statistics.median(samples):>10.3f} {p95:>10.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--cold", type=int, default=5)
    parser.add_argument("--burn", action="store_true", help="again with every core busy")
    args = parser.parse_args()
    report("as the machine is", measure(args.rounds, args.cold))
    if args.burn:
        burners = start_burners(2 * (os.cpu_count() or 2), 600)
        try:
            time.sleep(0.5)
            report("with a CPU burner on every core (2 per core)", measure(args.rounds, args.cold))
        finally:
            stop_burners(burners)


if __name__ == "__main__":
    main()
