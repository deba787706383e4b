"""Instances per second of a 10-service-task straight line, four ways, side by side; then a
script-heavy process and a long loop.

    .venv/bin/python bench/throughput.py [--instances N] [--quick] [--modes raw,embedded,celery,script,loop]

1. ``raw``: SpiffWorkflow alone, in memory: parse once with its CamundaParser, then run N
   workflows, completing every STARTED service task in Python. No persistence. The ceiling.
2. ``embedded``: Baton on a SQLite file in a temp dir, jobs run in this process by
   ``adapters.runner.InlineDriver``; every step is a committed transaction (claim the job,
   call ``bench.handlers:step``, advance the instance).
3. ``celery_1`` / ``celery_2``: Baton on PostgreSQL (a fresh database, dropped after) with a
   Redis broker and a real ``baton worker`` with 1, then 2 pool processes. N instances are
   started through ``Engine.start`` from this process; the clock runs from the first start
   until the database says every one of them is ``completed``.
4. ``script``: ``script_ten.bpmn``, ten script tasks (a loop, a list, a dict each), raw
   SpiffWorkflow (its in-process PythonScriptEngine) against Baton embedded (every script in
   the sandbox: RestrictedPython in a child process).
5. ``loop``: ``long_loop.bpmn``, one service task in a loop of ``--loop`` turns (10,000), run
   embedded; the cost of one step (claim, call, advance) at turns 10, 1,000, 5,000 and 10,000
   (the median of the ten steps ending there), the stored state at each, and cost@5000 / cost@10.

Human-readable lines first; the LAST line is one JSON object with every figure. Modes whose
service (PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379) is missing are skipped, with
the reason printed. This is a manual benchmark, not a test: ``make bench`` runs it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `engine`, `adapters` and `bench` importable
    sys.path.insert(0, str(ROOT))

BENCH = ROOT / "bench"
BPMN = BENCH / "straight_ten.bpmn"
ENDPOINTS = BENCH / "endpoints.toml"
PROCESS_KEY = "straight_ten"
STEPS = 10

SCRIPT_BPMN = BENCH / "script_ten.bpmn"
SCRIPT_KEY = "script_ten"
LOOP_BPMN = BENCH / "long_loop.bpmn"
LOOP_KEY = "long_loop"
LOOP_CHECKPOINTS = (10, 1_000, 5_000, 10_000)

DEFAULTS = {"raw": 500, "embedded": 100, "celery": 100, "script": 40, "loop": 10_000}
QUICK = {"raw": 100, "embedded": 20, "celery": 20, "script": 10, "loop": 1_000}

POSTGRES_ADMIN_URL = os.environ.get("BATON_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
CLAIM_KEY, CLAIM_SECONDS = "baton:test-claim", 1800  # the Redis claim of tests/conftest.py's redis_url


class Skip(Exception):
    """A mode cannot run here (a service is missing); the message says why."""


def say(line: str = "") -> None:
    print(line, flush=True)


def reachable(host: str, port: int) -> str | None:
    """None when something listens on host:port, else the reason."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as exc:
        return f"{host}:{port} does not answer ({exc})"


def check_run(done: list[dict[str, Any]], expected: int) -> None:
    """Every instance ended and ran all ten steps (the handler counts them in ``steps``)."""
    bad = [d for d in done if d.get("status") != "completed" or d.get("steps") != STEPS]
    if len(done) != expected or bad:
        raise RuntimeError(f"{len(done)} of {expected} instances checked, {len(bad)} wrong: {bad[:3]}")


# -- 1. raw SpiffWorkflow ------------------------------------------------------------------

def raw_specs(path: Path, key: str) -> tuple[Any, dict[str, Any]]:
    """``key``'s spec and sub-process specs read by SpiffWorkflow's own Camunda parser."""
    from SpiffWorkflow.camunda.parser import CamundaParser

    parser = CamundaParser()
    parser.add_bpmn_file(str(path))
    return parser.get_spec(key), parser.get_subprocess_specs(key)


def bench_raw(n: int) -> dict[str, Any]:
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    from bench.handlers import step

    spec, subprocess_specs = raw_specs(BPMN, PROCESS_KEY)

    def run_one(i: int) -> dict[str, Any]:
        workflow = BpmnWorkflow(spec, subprocess_specs)
        workflow.task_tree.data.update({"i": i})
        workflow.do_engine_steps()
        for _ in range(STEPS + 1):  # bounded: one service task per round
            started = workflow.get_tasks(state=TaskState.STARTED)
            if not started:
                break
            for task in started:
                task.data.update(step(dict(task.data)))
                task.complete()
            workflow.do_engine_steps()
        data = workflow.last_task.data if workflow.last_task else {}
        return {"status": "completed" if workflow.is_completed() else "stuck", "steps": data.get("steps")}

    for i in range(min(10, n)):  # warm-up, not timed
        run_one(-1 - i)
    began = time.perf_counter()
    done = [run_one(i) for i in range(n)]
    seconds = time.perf_counter() - began
    check_run(done, n)
    return {"instances": n, "seconds": seconds}


# -- 2. Baton embedded (SQLite, in-process jobs) --------------------------------------------

def make_inline_engine(home: Path, diagrams: tuple[Path, ...] = (BPMN,), *,  # type: ignore[no-untyped-def]
                       commit_every_step: bool = False):
    """An embedded engine in ``home`` whose jobs run in this process (tests' ``inline_engine``),
    wired as ``baton`` wires it: in-process steps run inside the advance unless
    ``commit_every_step`` (then each is a job of its own, committed)."""
    import migrations
    from adapters.endpoints import call_in_process
    from adapters.runner import InlineDriver
    from engine import Engine, Settings

    settings = Settings(home=home, endpoints=ENDPOINTS, commit_every_step=commit_every_step)
    migrations.upgrade(settings.database_url)
    driver = InlineDriver()
    engine = Engine(settings, notifier=driver.notify, in_process=call_in_process)
    driver.engine = engine
    engine.deploy([(d.name, d.read_bytes()) for d in diagrams])
    return engine, driver


def run_inline(engine, driver, n: int, offset: int = 0, key: str = PROCESS_KEY) -> list[str]:  # type: ignore[no-untyped-def]
    ids = []
    for i in range(n):
        ids.append(engine.start(key, {"i": offset + i}))
        driver.drain()
    return ids


def final_states(engine, ids: list[str]) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from engine.models import ProcessInstance

    with engine.db.reading() as session:
        rows = session.execute(select(ProcessInstance.status, ProcessInstance.variables)
                               .where(ProcessInstance.id.in_(ids))).all()
    return [{"status": status, "steps": (variables or {}).get("steps")} for status, variables in rows]


def bench_embedded(n: int, commit_every_step: bool = False) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="baton-bench-embedded-"))
    engine = None
    try:
        engine, driver = make_inline_engine(home, commit_every_step=commit_every_step)
        run_inline(engine, driver, min(5, n), offset=-1000)  # warm-up, not timed
        began = time.perf_counter()
        ids = run_inline(engine, driver, n)
        seconds = time.perf_counter() - began
        check_run(final_states(engine, ids), n)
        return {"instances": n, "seconds": seconds}
    finally:
        if engine is not None:
            engine.close()
        shutil.rmtree(home, ignore_errors=True)


# -- 4. a script-heavy process ------------------------------------------------------------

def bench_script_raw(n: int) -> dict[str, Any]:
    """``script_ten`` on SpiffWorkflow alone: its own PythonScriptEngine, in this process."""
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

    spec, subprocess_specs = raw_specs(SCRIPT_BPMN, SCRIPT_KEY)

    def run_one(i: int) -> dict[str, Any]:
        workflow = BpmnWorkflow(spec, subprocess_specs)
        workflow.task_tree.data.update({"i": i})
        workflow.do_engine_steps()
        data = workflow.last_task.data if workflow.last_task else {}
        return {"status": "completed" if workflow.is_completed() else "stuck", "steps": data.get("steps")}

    for i in range(min(5, n)):
        run_one(-1 - i)
    began = time.perf_counter()
    done = [run_one(i) for i in range(n)]
    seconds = time.perf_counter() - began
    check_run(done, n)
    return {"instances": n, "seconds": seconds}


def bench_script_embedded(n: int) -> dict[str, Any]:
    """``script_ten`` on Baton embedded: every script in the sandbox (a child process)."""
    home = Path(tempfile.mkdtemp(prefix="baton-bench-script-"))
    engine = None
    try:
        engine, driver = make_inline_engine(home, (SCRIPT_BPMN,))
        run_inline(engine, driver, min(3, n), offset=-1000, key=SCRIPT_KEY)
        began = time.perf_counter()
        ids = run_inline(engine, driver, n, key=SCRIPT_KEY)
        seconds = time.perf_counter() - began
        check_run(final_states(engine, ids), n)
        return {"instances": n, "seconds": seconds}
    finally:
        if engine is not None:
            engine.close()
        shutil.rmtree(home, ignore_errors=True)


# -- 5. the long loop -----------------------------------------------------------------------

def bench_loop(turns: int, time_limit: float = 300.0) -> dict[str, Any]:
    """One ``long_loop`` instance of ``turns`` turns, embedded; each step timed on its own.

    A step is one job: claim, call ``bench.handlers:tick``, advance (restore or reuse the
    workflow, run the gateway, write history and the next job, store the state). The cost at
    turn k is the median of the ten steps ending at k, in wall-clock time and in this thread's
    CPU time (the engine's own work, which the machine's load does not inflate; SQLite runs in
    this thread, so its queries are in it too); the state is the instance row's
    ``state`` (the serialized task tree) read right after turn k. Bounded: after
    ``time_limit`` seconds the loop is left unfinished and the figures so far are returned
    (``stopped_at``), with the cost of the last ten steps.
    """
    import statistics

    from sqlalchemy import func, select

    from adapters.runner import run_job
    from engine.models import ActivityEvent, Job, ProcessInstance

    home = Path(tempfile.mkdtemp(prefix="baton-bench-loop-"))
    engine = None
    checkpoints = [k for k in LOOP_CHECKPOINTS if k <= turns] or [turns]
    try:
        engine, driver = make_inline_engine(home, (LOOP_BPMN,), commit_every_step=True)  # a step is a job
        warm = engine.start(LOOP_KEY, {"i": 0, "n": 20})  # warm-up, not timed
        driver.drain()
        instance_id = engine.start(LOOP_KEY, {"i": 0, "n": turns})
        costs: list[float] = []
        cpu: list[float] = []  # this thread's CPU per step: what the engine did, whatever the machine's load
        at: dict[int, dict[str, Any]] = {}
        began = time.perf_counter()
        stopped_at = None
        while driver.queue:
            if time.perf_counter() - began > time_limit:
                stopped_at = len(costs)
                at[stopped_at] = {"cost_ms": round(statistics.median(costs[-10:]) * 1000, 3),
                                  "cpu_ms": round(statistics.median(cpu[-10:]) * 1000, 3), "state_bytes": None,
                                  "stopped": True}
                break
            ticket = driver.queue.popleft()
            t0, c0 = time.perf_counter(), time.thread_time()
            run_job(engine, ticket.id, "inline")
            costs.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
            if len(costs) in checkpoints:
                with engine.db.reading() as session:
                    state_len = session.scalar(select(func.length(ProcessInstance.state))
                                               .where(ProcessInstance.id == instance_id))
                window = costs[-10:]
                at[len(costs)] = {"cost_ms": round(statistics.median(window) * 1000, 3),
                                  "cpu_ms": round(statistics.median(cpu[-10:]) * 1000, 3),
                                  "state_bytes": state_len}
        seconds = time.perf_counter() - began
        with engine.db.reading() as session:
            status, variables, state_len = session.execute(
                select(ProcessInstance.status, ProcessInstance.variables, func.length(ProcessInstance.state))
                .where(ProcessInstance.id == instance_id)).one()
            history = session.scalar(select(func.count()).select_from(ActivityEvent)
                                     .where(ActivityEvent.instance_id == instance_id))
            jobs = session.scalar(select(func.count()).select_from(Job).where(Job.instance_id == instance_id))
            history_bytes = session.scalar(
                select(func.sum(func.length(ActivityEvent.element_id) + func.length(ActivityEvent.event)
                                + func.coalesce(func.length(ActivityEvent.details), 0) + 40))
                .where(ActivityEvent.instance_id == instance_id))
        if stopped_at is not None:
            at[stopped_at]["state_bytes"] = state_len
        if stopped_at is None and (status != "completed" or (variables or {}).get("i") != turns
                                   or len(costs) != turns):
            raise RuntimeError(f"the loop ended {status} at i={(variables or {}).get('i')} after {len(costs)} steps")
        first, mid = at.get(checkpoints[0]), at.get(5_000)
        del warm
        return {
            "turns": turns, "seconds": seconds, "at": at, "stopped_at": stopped_at, "time_limit": time_limit,
            "ratio_5000_to_10": round(mid["cost_ms"] / first["cost_ms"], 3) if mid and first else None,
            "cpu_ratio_5000_to_10": round(mid["cpu_ms"] / first["cpu_ms"], 3) if mid and first else None,
            "final_state_bytes": state_len, "history_rows": history, "history_bytes_approx": history_bytes,
            "job_rows": jobs,
        }
    finally:
        if engine is not None:
            engine.close()
        shutil.rmtree(home, ignore_errors=True)


# -- 3. Baton with Celery workers, Redis and PostgreSQL -------------------------------------

class CeleryStack:
    """A fresh PostgreSQL database and an empty Redis database for one benchmark run."""

    def __init__(self, beat: bool = False) -> None:
        self.beat = beat
        self.home = Path(tempfile.mkdtemp(prefix="baton-bench-celery-"))
        self.db_name = f"baton_bench_{uuid.uuid4().hex[:10]}"
        self.database_url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.db_name
        self.redis_db: int | None = None
        self.engine = None
        self._created = False

    def __enter__(self) -> CeleryStack:
        for name, (host, port) in {"PostgreSQL": ("127.0.0.1", 5432), "Redis": (REDIS_HOST, REDIS_PORT)}.items():
            problem = reachable(host, port)
            if problem:
                raise Skip(f"{name} missing: {problem}")
        try:
            import redis
            import sqlalchemy as sa
        except ImportError as exc:
            raise Skip(f"a client library is missing: {exc}") from exc
        try:
            admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{self.db_name}"'))
            admin.dispose()
        except Exception as exc:
            raise Skip(f"cannot create a PostgreSQL database through {POSTGRES_ADMIN_URL}: {exc}") from exc
        self._created = True
        try:
            self._claim_redis_database(redis)
            self._prepare()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _claim_redis_database(self, redis: Any) -> None:
        """Take an empty Redis database with the claim key the test fixtures honour.

        Test runs on the same server pick a database among 1..15 by setting ``CLAIM_KEY`` with NX
        and then flush it; a database holding our claim is left alone. Highest first.
        """
        for db in range(15, 0, -1):
            client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
            try:
                if client.set(CLAIM_KEY, "bench", nx=True, ex=CLAIM_SECONDS):
                    if client.dbsize() == 1:
                        self.redis_db = db
                        return
                    client.delete(CLAIM_KEY)  # someone's unclaimed data: not ours to flush
            finally:
                client.close()
        raise Skip("no free Redis database among 1..15 (each is claimed or holds data)")

    def renew_claim(self) -> None:
        import redis

        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=self.redis_db)
        client.set(CLAIM_KEY, "bench", ex=CLAIM_SECONDS)
        client.close()

    def _prepare(self) -> None:
        import migrations

        migrations.upgrade(self.database_url)
        from adapters.broker import CeleryNotifier
        from adapters.tasks import create_celery
        from engine import Engine, Settings

        settings = Settings.from_env(self.env())
        self.engine = Engine(settings, notifier=CeleryNotifier(create_celery(settings)))
        self.engine.deploy([(BPMN.name, BPMN.read_bytes())])

    @property
    def broker_url(self) -> str:
        return f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}"

    def env(self) -> dict[str, str]:
        return {
            "BATON_DATABASE_URL": self.database_url,
            "BATON_BROKER_URL": self.broker_url,
            "BATON_ENDPOINTS": str(ENDPOINTS),
            "BATON_HOME": str(self.home),
            # Every step a job through the broker, as this benchmark means to measure: by default
            # (since 97680a9) a worker runs python-callable steps inside the advance that reached
            # them, so an instance of straight_ten would be one job, not ten.
            "BATON_COMMIT_EVERY_STEP": "true",
        }

    def __exit__(self, *exc_info: object) -> None:
        if self.engine is not None:
            self.engine.close()
        if self.redis_db is not None:
            import redis

            client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=self.redis_db)
            client.flushdb()
            client.close()
        if self._created:
            import sqlalchemy as sa

            admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
            admin.dispose()
        shutil.rmtree(self.home, ignore_errors=True)

    # -- workers ---------------------------------------------------------------------------
    def start_worker(self, concurrency: int) -> tuple[subprocess.Popen[bytes], Path]:
        env = dict(os.environ)
        env.update(self.env())
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        log_path = self.home / f"worker-{concurrency}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "web.cli", "worker", f"--concurrency={concurrency}",
                 "--beat" if self.beat else "--no-beat", "--loglevel=WARNING"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return process, log_path

    @staticmethod
    def stop_worker(process: subprocess.Popen[bytes]) -> None:
        """Stop the worker we started and its pool children (its own process group), bounded."""
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):  # pool children left behind, or SIGTERM ignored
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)

    def wait_completed(self, ids: list[str], timeout: float, worker: subprocess.Popen[bytes] | None = None,
                       poll: float = 0.02) -> float:
        """Poll the database until every instance in ``ids`` is completed; return when that was.

        Gives up at ``timeout``, on an incident, or as soon as ``worker`` has exited.
        """
        from sqlalchemy import func, select

        from engine.models import ProcessInstance

        deadline = time.monotonic() + timeout
        while True:
            with self.engine.db.reading() as session:
                counts = dict(session.execute(
                    select(ProcessInstance.status, func.count()).where(ProcessInstance.id.in_(ids))
                    .group_by(ProcessInstance.status)).all())
            now = time.perf_counter()
            if counts.get("completed", 0) == len(ids):
                return now
            if counts.get("incident"):
                raise RuntimeError(f"{counts['incident']} instance(s) opened an incident: {counts}")
            if worker is not None and worker.poll() is not None:
                raise RuntimeError(f"the worker exited with code {worker.returncode}: {counts}")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"not all {len(ids)} instances completed within {timeout:.0f} s: {counts}")
            time.sleep(poll)

    def relayed_jobs(self, ids: list[str]) -> int:
        """Jobs of ``ids`` sent again by the relay: ``sent_at`` well after the job was created.

        (The engine stamps ``sent_at`` when it sends a new job, the relay when it re-sends one;
        no job fails or retries in this benchmark.)
        """
        from sqlalchemy import select

        from engine.models import Job

        with self.engine.db.reading() as session:
            rows = session.execute(select(Job.created_at, Job.sent_at).where(Job.instance_id.in_(ids))).all()
        return sum(1 for created, sent in rows if sent is not None and (sent - created).total_seconds() > 1.0)

    def run(self, n: int, concurrency: int, timeout: float) -> dict[str, Any]:
        self.renew_claim()
        process, log_path = self.start_worker(concurrency)
        try:
            # Warm-up, not timed: proves the worker consumes and warms its pool processes' caches.
            warm = [self.engine.start(PROCESS_KEY, {"i": -1 - i}) for i in range(2 * concurrency)]
            try:
                self.wait_completed(warm, timeout=60, worker=process)
            except (TimeoutError, RuntimeError) as exc:
                tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
                raise RuntimeError(f"the worker did not run the warm-up instances: {exc}\n{tail}") from exc
            began = time.perf_counter()
            ids = [self.engine.start(PROCESS_KEY, {"i": i}) for i in range(n)]
            started = time.perf_counter()
            try:
                ended = self.wait_completed(ids, timeout=timeout, worker=process)
            except (TimeoutError, RuntimeError) as exc:
                tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
                raise RuntimeError(f"{exc}\nworker log (tail):\n{tail}") from exc
            check_run(final_states(self.engine, ids), n)
            return {"instances": n, "seconds": ended - began, "start_seconds": started - began,
                    "relayed_jobs": self.relayed_jobs(ids)}
        finally:
            self.stop_worker(process)


# -- the run -------------------------------------------------------------------------------

def rate(result: dict[str, Any] | None) -> float | None:
    return result["instances"] / result["seconds"] if result else None


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 4) if a and b else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, help="N for every mode (default: raw 500, embedded 100, celery 100)")
    parser.add_argument("--quick", action="store_true", help="small N (raw 100, embedded 20, celery 20)")
    parser.add_argument("--modes", default="raw,embedded,celery,script,loop",
                        help="comma-separated subset of raw,embedded,celery,script,loop")
    parser.add_argument("--loop", type=int, help="turns of the long loop (default 10,000; --quick 1,000)")
    parser.add_argument("--loop-limit", type=float, default=300.0,
                        help="seconds after which the long loop is stopped and reported unfinished (300)")
    parser.add_argument("--beat", action="store_true",
                        help="run the Celery workers with beat (the relay that re-sends stale pending jobs)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for one Celery run")
    args = parser.parse_args(argv)

    counts = dict(QUICK if args.quick else DEFAULTS)
    if args.instances:
        counts = {mode: (args.instances if mode != "loop" else counts[mode]) for mode in counts}
    if args.loop:
        counts["loop"] = args.loop
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(DEFAULTS)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}")

    import SpiffWorkflow

    say(f"Baton throughput: {PROCESS_KEY} (start -> {STEPS} service tasks -> end), "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"SpiffWorkflow {getattr(SpiffWorkflow, '__version__', '?')}")
    load_before = os.getloadavg()
    say(f"  load average before the run: {load_before[0]:.2f} (figures drop when the machine is busy)")
    results: dict[str, dict[str, Any] | None] = {"raw": None, "embedded": None, "embedded_every_step": None,
                                                  "celery_1": None, "celery_2": None,
                                                  "script_raw": None, "script_embedded": None}
    loop: dict[str, Any] | None = None
    skipped: dict[str, str] = {}

    def show(name: str, label: str) -> None:
        r = results[name]
        extra = f", starting took {r['start_seconds']:.2f} s" if r and "start_seconds" in r else ""
        say(f"  {label:<44} {rate(r):9.1f} instances/s  ({r['instances']} in {r['seconds']:.2f} s{extra})")

    if "raw" in modes:
        results["raw"] = bench_raw(counts["raw"])
        show("raw", "1. raw SpiffWorkflow, in memory")
    if "embedded" in modes:
        results["embedded"] = bench_embedded(counts["embedded"])
        show("embedded", "2. Baton embedded (SQLite, commit at waits)")
        results["embedded_every_step"] = bench_embedded(counts["embedded"], commit_every_step=True)
        show("embedded_every_step", "2. Baton embedded, commit every step")
    if "celery" in modes:
        timeout = max(args.timeout, counts["celery"] * 2.0)
        try:
            with CeleryStack(beat=args.beat) as stack:
                for concurrency in (1, 2):
                    name = f"celery_{concurrency}"
                    results[name] = stack.run(counts["celery"], concurrency, timeout)
                    show(name, f"3. Baton + Celery/Redis/PostgreSQL, {concurrency} proc")
                    if args.beat:
                        say(f"     (beat on: the relay re-sent {results[name]['relayed_jobs']} job(s))")
        except Skip as exc:
            for name in ("celery_1", "celery_2"):
                skipped[name] = str(exc)
            say(f"  3. Celery modes skipped: {exc}")

    if "script" in modes:
        results["script_raw"] = bench_script_raw(counts["script"] * 5)
        show("script_raw", "4. script_ten, raw SpiffWorkflow")
        results["script_embedded"] = bench_script_embedded(counts["script"])
        show("script_embedded", "4. script_ten, Baton embedded (sandbox)")
    if "loop" in modes:
        loop = bench_loop(counts["loop"], args.loop_limit)
        done_turns = loop["stopped_at"] or loop["turns"]
        say(f"  5. long_loop, {loop['turns']} turns embedded, {done_turns} done in {loop['seconds']:.1f} s "
            f"({done_turns / loop['seconds']:.1f} steps/s)"
            + (f", STOPPED at the {loop['time_limit']:.0f} s limit" if loop["stopped_at"] else "") + ":")
        for k, point in loop["at"].items():
            size = point["state_bytes"] or "?"
            say(f"       step cost at turn {k:>6}: {point['cost_ms']:8.2f} ms (CPU {point['cpu_ms']:7.2f} ms)"
                f"   state {size:>8} bytes")
        say(f"       cost@5000 / cost@10 = {loop['ratio_5000_to_10']} (CPU: {loop['cpu_ratio_5000_to_10']}); "
            f"at the end: state {loop['final_state_bytes']} "
            f"bytes, {loop['history_rows']} history rows (~{loop['history_bytes_approx']} bytes), "
            f"{loop['job_rows']} job rows")

    rates = {name: (round(rate(r), 2) if r else None) for name, r in results.items()}
    ratios = {
        "embedded/raw": ratio(rates["embedded"], rates["raw"]),
        "embedded_every_step/raw": ratio(rates["embedded_every_step"], rates["raw"]),
        "celery_1/embedded": ratio(rates["celery_1"], rates["embedded"]),
        "celery_2/celery_1": ratio(rates["celery_2"], rates["celery_1"]),
        "celery_2/embedded": ratio(rates["celery_2"], rates["embedded"]),
        "celery_1/raw": ratio(rates["celery_1"], rates["raw"]),
        "script_embedded/script_raw": ratio(rates["script_embedded"], rates["script_raw"]),
    }
    say("Ratios:")
    for name, value in ratios.items():
        if value is not None:
            how = f"{1 / value:.1f}x slower" if value < 1 else f"{value:.1f}x faster"
            say(f"  {name:<20} {value:8.3f}  ({name.split('/')[0]} is {how})")
    print(json.dumps({
        "benchmark": "straight_ten",
        "steps": STEPS,
        "cpu_count": os.cpu_count(),
        "load_average_before": round(load_before[0], 2),
        "celery_beat": args.beat,
        "N": {name: (r["instances"] if r else None) for name, r in results.items()},
        "instances_per_s": rates,
        "seconds": {name: (round(r["seconds"], 3) if r else None) for name, r in results.items()},
        "ratios": ratios,
        "relayed_jobs": {name: r["relayed_jobs"] for name, r in results.items() if r and "relayed_jobs" in r},
        "loop": loop,
        "skipped": skipped,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
