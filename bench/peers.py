"""The same diagram on Baton and on its peers, in one run: one table of instances/s and ratios.

    .venv/bin/python bench/peers.py                 # about 3 to 5 minutes on a quiet 2-core machine
    .venv/bin/python bench/peers.py --quick
    .venv/bin/python bench/peers.py --peers raw,embedded,node --profile embedded

The diagram is ``bench/straight_ten.bpmn``: start, ten service tasks, end; every step runs the
same Python callable (``bench.handlers:step``: ``steps + 1``) or, in Node, the same arithmetic.

=================  ============================================================================
peer               what runs
=================  ============================================================================
``raw``            SpiffWorkflow 3.2 alone, in memory (``throughput.py``'s mode 1). The ceiling.
``embedded``       Baton embedded: SQLite, jobs run in this process (``throughput.py`` mode 2).
``celery_1/2``     Baton in production shape: PostgreSQL, Redis broker, a real ``baton worker``
                   with 1 then 2 pool processes; the callable is a python endpoint
                   (``bench/endpoints.toml``) (``throughput.py`` mode 3).
``bare_celery_1/2``  No engine, no database: each step is one Celery task on the same Redis
                   broker and worker settings (``bench/bare_celery.py``), 1 then 2 pool processes.
``node``           bpmn-engine (npm), in memory, one Node process (``bench/peers_node/run.js``;
                   ``npm ci`` there is run when ``node_modules`` is missing).
=================  ============================================================================

Ratios: every peer against raw SpiffWorkflow; the Celery ones also against bare Celery with as
many pool processes, and 2 processes against 1. The goals of issue 9 are checked at the end:
embedded >= 0.4x raw; Baton Celery 2 processes >= 0.5x bare Celery (2 processes) and >= 1.6x its
own 1 process. ``--profile PEER`` (``embedded`` or ``celery``) prints the top functions by
cumulative time (cProfile) of that peer's work: in this process for ``embedded``; for
``celery``, of the worker's pool process (``bench/profiled_worker.py``).
The LAST line is one JSON object with every figure. The commit printed is ``git rev-parse HEAD``
of the checkout, or ``BATON_BENCH_COMMIT`` (a snapshot made with ``git archive`` has no git).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import throughput  # noqa: E402
from bench.throughput import BPMN, CeleryStack, Skip, bench_embedded, bench_raw, say  # noqa: E402

NODE_DIR = ROOT / "bench" / "peers_node"
PEERS = ("raw", "embedded", "celery", "bare", "node")
DEFAULTS = {"raw": 500, "embedded": 100, "celery": 100, "bare": 100, "node": 300}
QUICK = {"raw": 100, "embedded": 20, "celery": 20, "bare": 20, "node": 50}
GOALS = (("embedded/raw", 0.4), ("celery_2/bare_celery_2", 0.5), ("celery_2/celery_1", 1.6))


# -- bare Celery ----------------------------------------------------------------------------

def bench_bare(stack: CeleryStack, n: int, concurrency: int, timeout: float) -> dict[str, Any]:
    """N instances of ten chained Celery tasks on the stack's Redis broker; a worker of ``concurrency``."""
    import redis

    from bench import bare_celery

    bare_celery.app.conf.broker_url = stack.broker_url
    client = redis.Redis.from_url(stack.broker_url)
    env = dict(os.environ)
    env.update({"BENCH_BARE_BROKER": stack.broker_url,
                "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")})
    log_path = stack.home / f"bare-{concurrency}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "bench.bare_celery", "worker", f"--concurrency={concurrency}",
             f"--queues={bare_celery.QUEUE}", "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_done(expected: int, limit: float) -> float:
        deadline = time.monotonic() + limit
        while True:
            done = int(client.get(bare_celery.DONE_KEY) or 0)
            if done >= expected:
                return time.perf_counter()
            if process.poll() is not None:
                raise RuntimeError(f"the bare Celery worker exited ({process.returncode}):\n"
                                   + log_path.read_text(errors="replace")[-2000:])
            if time.monotonic() >= deadline:
                raise TimeoutError(f"bare Celery: {done} of {expected} done within {limit:.0f} s:\n"
                                   + log_path.read_text(errors="replace")[-2000:])
            time.sleep(0.02)

    try:
        client.set(bare_celery.DONE_KEY, 0)
        for i in range(2 * concurrency):  # warm-up, not timed
            bare_celery.bare_step.apply_async(({"i": -1 - i},))
        wait_done(2 * concurrency, 60)
        client.set(bare_celery.DONE_KEY, 0)
        began = time.perf_counter()
        for i in range(n):
            bare_celery.bare_step.apply_async(({"i": i},))
        ended = wait_done(n, timeout)
        return {"instances": n, "seconds": ended - began}
    finally:
        CeleryStack.stop_worker(process)
        client.delete(bare_celery.DONE_KEY)
        client.close()


# -- bpmn-engine ----------------------------------------------------------------------------

def bench_node(n: int) -> dict[str, Any]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node:
        raise Skip("node is not installed")
    if not (NODE_DIR / "node_modules" / "bpmn-engine").is_dir():
        if not npm:
            raise Skip("npm is not installed (needed once: npm ci in bench/peers_node)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR, check=True,
                       timeout=300)
    done = subprocess.run([node, "run.js", str(BPMN), str(n), str(min(20, n))], cwd=NODE_DIR, check=True,
                          capture_output=True, text=True, timeout=max(300, n))
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"instances": result["instances"], "seconds": result["seconds"],
            "versions": f"bpmn-engine {result['bpmn_engine']}, Node {result['node']}"}


# -- profiles -------------------------------------------------------------------------------

def profile_embedded(n: int, top: int = 35) -> str:
    import cProfile
    import io
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    result = bench_embedded(n)
    profile.disable()
    buffer = io.StringIO()
    buffer.write(f"profile: Baton embedded, {n} instances ({result['instances'] / result['seconds']:.1f}/s under "
                 "cProfile), top functions by cumulative time\n")
    pstats.Stats(profile, stream=buffer).strip_dirs().sort_stats("cumulative").print_stats(top)
    return buffer.getvalue()


def profile_celery(stack: CeleryStack, n: int, timeout: float) -> str:
    """A worker with one pool process whose every task runs under cProfile (bench/profiled_worker.py)."""
    out = stack.home / "worker-profile.txt"
    env = dict(os.environ)
    env.update(stack.env())
    env.update({"PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""), "BENCH_PROFILE_OUT": str(out)})
    log_path = stack.home / "worker-profiled.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "profiled_worker.py")], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        warm = [stack.engine.start(throughput.PROCESS_KEY, {"i": -1 - i}) for i in range(2)]
        stack.wait_completed(warm, timeout=60, worker=process)
        began = time.perf_counter()
        ids = [stack.engine.start(throughput.PROCESS_KEY, {"i": i}) for i in range(n)]
        ended = stack.wait_completed(ids, timeout=timeout, worker=process)
    finally:
        if process.poll() is None:  # a warm shutdown: the pool process writes its profile as it exits
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
        CeleryStack.stop_worker(process)
    text = out.read_text(errors="replace") if out.exists() else "(no profile written)\n" + \
        log_path.read_text(errors="replace")[-2000:]
    return (f"profile: Baton + Celery/Redis/PostgreSQL, the pool process of a 1-process worker, {n} instances "
            f"({n / (ended - began):.1f}/s under cProfile), top functions by cumulative time\n{text}")


# -- the run --------------------------------------------------------------------------------

def rate(result: dict[str, Any] | None) -> float | None:
    return round(result["instances"] / result["seconds"], 2) if result else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated subset of {','.join(PEERS)}")
    parser.add_argument("--quick", action="store_true", help="small N everywhere")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for one Celery run")
    parser.add_argument("--profile", choices=("embedded", "celery"), action="append", default=[],
                        help="afterwards, profile this peer (may be given twice)")
    args = parser.parse_args(argv)
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    if set(peers) - set(PEERS):
        parser.error(f"unknown peers {sorted(set(peers) - set(PEERS))}")
    counts = QUICK if args.quick else DEFAULTS

    import SpiffWorkflow

    commit = os.environ.get("BATON_BENCH_COMMIT") or subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    load_before = os.getloadavg()
    say(f"Peers on straight_ten (start -> 10 service tasks -> end), {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}, SpiffWorkflow {getattr(SpiffWorkflow, '__version__', '?')}, "
        f"Baton at {commit or '?'}")
    say(f"  load average before the run: {load_before[0]:.2f} (figures drop when the machine is busy)")
    results: dict[str, dict[str, Any] | None] = {}
    skipped: dict[str, str] = {}
    labels = {
        "raw": "raw SpiffWorkflow, in memory",
        "embedded": "Baton embedded (SQLite, inline jobs)",
        "celery_1": "Baton + Celery/Redis/PostgreSQL, 1 proc",
        "celery_2": "Baton + Celery/Redis/PostgreSQL, 2 proc",
        "bare_celery_1": "bare Celery tasks on Redis, 1 proc",
        "bare_celery_2": "bare Celery tasks on Redis, 2 proc",
        "node": "bpmn-engine (Node), in memory",
    }

    def show(name: str) -> None:
        r = results[name]
        extra = f", {r['versions']}" if r and "versions" in r else ""
        say(f"  {labels[name]:<42} {rate(r):9.1f} instances/s  ({r['instances']} in {r['seconds']:.2f} s{extra})")

    if "raw" in peers:
        results["raw"] = bench_raw(counts["raw"])
        show("raw")
    if "embedded" in peers:
        results["embedded"] = bench_embedded(counts["embedded"])
        show("embedded")
    profiles: list[str] = []
    if {"celery", "bare"} & set(peers) or "celery" in args.profile:
        try:
            with CeleryStack() as stack:
                for concurrency in (1, 2):
                    if "celery" in peers:
                        name = f"celery_{concurrency}"
                        results[name] = stack.run(counts["celery"], concurrency,
                                                  max(args.timeout, counts["celery"] * 2.0))
                        show(name)
                    if "bare" in peers:
                        stack.renew_claim()
                        name = f"bare_celery_{concurrency}"
                        results[name] = bench_bare(stack, counts["bare"], concurrency, args.timeout)
                        show(name)
                if "celery" in args.profile:
                    profiles.append(profile_celery(stack, counts["celery"] // 2 or 1, args.timeout))
        except Skip as exc:
            for name in ("celery_1", "celery_2", "bare_celery_1", "bare_celery_2"):
                skipped[name] = str(exc)
            say(f"  Celery peers skipped: {exc}")
    if "node" in peers:
        try:
            results["node"] = bench_node(counts["node"])
            show("node")
        except Skip as exc:
            skipped["node"] = str(exc)
            say(f"  bpmn-engine skipped: {exc}")
    if "embedded" in args.profile:
        profiles.append(profile_embedded(counts["embedded"]))
    load_after = os.getloadavg()

    rates = {name: rate(r) for name, r in results.items()}

    def ratio(a: str, b: str) -> float | None:
        return round(rates[a] / rates[b], 3) if rates.get(a) and rates.get(b) else None

    say()
    say(f"{'peer':<44}{'instances/s':>12}{'x raw Spiff':>13}{'x bare Celery':>15}")
    for name in labels:
        if name not in rates:
            continue
        bare = f"bare_celery_{name[-1]}" if name.startswith("celery_") else None
        vs_bare = ratio(name, bare) if bare else None
        say(f"{labels[name]:<44}{rates[name]:>12.1f}{ratio(name, 'raw') or float('nan'):>13.3f}"
            + (f"{vs_bare:>15.3f}" if vs_bare is not None else f"{'':>15}"))
    ratios = {
        "embedded/raw": ratio("embedded", "raw"),
        "celery_1/bare_celery_1": ratio("celery_1", "bare_celery_1"),
        "celery_2/bare_celery_2": ratio("celery_2", "bare_celery_2"),
        "celery_2/celery_1": ratio("celery_2", "celery_1"),
        "bare_celery_2/bare_celery_1": ratio("bare_celery_2", "bare_celery_1"),
        "node/raw": ratio("node", "raw"),
        "embedded/node": ratio("embedded", "node"),
    }
    say("ratios: " + ", ".join(f"{k} {v}" for k, v in ratios.items() if v is not None))
    goals = {name: {"goal": f">= {target}", "measured": ratios[name],
                    "met": None if ratios[name] is None else ratios[name] >= target} for name, target in GOALS}
    for name, g in goals.items():
        verdict = "not measured" if g["met"] is None else ("met" if g["met"] else "NOT met")
        say(f"goal {name} {g['goal']}: {g['measured']} ({verdict})")
    say(f"  load average after the run: {load_after[0]:.2f}")
    for text in profiles:
        say()
        say(text)
    print(json.dumps({
        "benchmark": "peers", "diagram": "straight_ten", "commit": commit, "cpu_count": os.cpu_count(),
        "load_average_before": round(load_before[0], 2), "load_average_after": round(load_after[0], 2),
        "N": {name: r["instances"] for name, r in results.items() if r}, "instances_per_s": rates,
        "ratios": ratios, "goals": goals, "skipped": skipped,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
