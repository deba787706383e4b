"""Load on ``baton serve``: requests/s, p50 and p99 of three REST calls, one web process against many.

    .venv/bin/python bench/web.py                       # 1,000 instances, 10 s per call and server
    .venv/bin/python bench/web.py --quick               # 300 instances, 4 s
    .venv/bin/python bench/web.py --processes 1,2,4 --seconds 20 --connections 8
    .venv/bin/python bench/web.py --profile list        # + cProfile of one web process under load

A fresh PostgreSQL database (created, migrated and dropped by the run; ``BATON_BENCH_POSTGRES``
overrides the admin URL) gets ``processes/user_registration.bpmn`` deployed and N instances
started through the engine: each waits at its user task, so nothing else runs meanwhile.
Then, for every process count, a real ``baton serve --processes K`` (gunicorn, gthread, the
default ``BATON_WEB_THREADS``) is started on a free port, warmed up, and driven by
``--connections`` keep-alive HTTP/1.1 connections (one thread each, ``http.client``) for
``--seconds`` per call, one call at a time:

- ``list``:     ``GET /api/v1/process-instances`` (the first page, 50, newest first, with the total)
- ``instance``: ``GET /api/v1/process-instances/ID`` of a random seeded instance
- ``start``:    ``POST /api/v1/process-definitions/user_registration/start`` (a new waiting instance)

with an operator token from the engine (what ``baton token create --role operator`` makes). A
latency is the whole round trip seen by the client. Any answer other than 200/201/202 counts as
an error and is printed. The client runs on the same machine and takes CPU from the server: on
two cores that lowers every figure, the same way for every process count.

Goal (issue 9): the instance list at 8 connections answers p99 < 100 ms on a quiet machine.
The LAST line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path and its name would hide the `web`
# package: put the checkout first instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

DIAGRAM = ROOT / "processes" / "user_registration.bpmn"
PROCESS_KEY = "user_registration"
POSTGRES_ADMIN_URL = os.environ.get("BATON_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CALLS = ("list", "instance", "start")
OK = {200, 201, 202}
GOAL_LIST_P99_MS = 100.0


def say(line: str = "") -> None:
    print(line, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


class Database:
    """A fresh PostgreSQL database with the diagram deployed, N waiting instances and a token."""

    def __init__(self) -> None:
        self.name = f"baton_bench_web_{uuid.uuid4().hex[:10]}"
        self.url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
        self.home = Path(tempfile.mkdtemp(prefix="baton-bench-web-"))
        self.engine: Any = None
        self.instance_ids: list[str] = []
        self.token = ""
        self._created = False

    def __enter__(self) -> Database:
        import sqlalchemy as sa

        admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        self._created = True
        try:
            import migrations
            from engine import Engine, Settings

            migrations.upgrade(self.url)
            self.engine = Engine(Settings.from_env(self.env()))  # no notifier: these instances make no jobs
            self.engine.deploy([(DIAGRAM.name, DIAGRAM.read_bytes())])
            _, self.token = self.engine.create_token("operator", "bench/web.py", created_by="bench")
        except BaseException:
            self.__exit__()
            raise
        return self

    def env(self) -> dict[str, str]:
        return {"BATON_DATABASE_URL": self.url, "BATON_HOME": str(self.home),
                "BATON_ENDPOINTS": str(ROOT / "processes" / "endpoints.toml"),
                "BATON_SECRET_KEY": "bench-web-" + self.name, "BATON_LOG_FORMAT": "text"}

    def seed(self, n: int, threads: int = 4) -> float:
        """Start ``n`` instances through the engine (each waits at its user task), from a few threads."""
        from concurrent.futures import ThreadPoolExecutor

        def start(i: int) -> str:
            return self.engine.start(
                PROCESS_KEY, {"applicant": f"applicant-{i}", "email": f"a{i}@example.com", "score": i % 100},
                business_key=f"bench-{i}")

        began = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            self.instance_ids.extend(pool.map(start, range(n)))
        return time.perf_counter() - began

    def count(self) -> int:
        from sqlalchemy import func, select

        from engine.models import ProcessInstance

        with self.engine.db.reading() as session:
            return session.scalar(select(func.count()).select_from(ProcessInstance))

    def __exit__(self, *exc_info: object) -> None:
        if self.engine is not None:
            self.engine.close()
        if self._created:
            import sqlalchemy as sa

            admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            admin.dispose()
        shutil.rmtree(self.home, ignore_errors=True)


class Server:
    """``baton serve --processes K`` in its own process group, stopped (SIGTERM, then SIGKILL) at exit."""

    def __init__(self, db: Database, processes: int, profile: Path | None = None) -> None:
        self.port = free_port()
        self.log_path = db.home / f"serve-{processes}-{self.port}.log"
        env = dict(os.environ)
        env.update(db.env())
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        command = [sys.executable, "-m", "web.cli", "serve", "--port", str(self.port), "--processes", str(processes)]
        if profile is not None:  # one process, every request under cProfile: serve_profiled below
            command = [sys.executable, str(Path(__file__).resolve()), "--serve-profiled", str(self.port),
                       str(profile)]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"baton serve exited with {self.process.returncode}:\n{self.tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/v1/health")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            time.sleep(0.2)
        raise RuntimeError(f"baton serve did not answer within {timeout:.0f} s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""

    def stop(self, wait: float = 20.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=wait)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def make_request(call: str, instance_ids: list[str], rng: random.Random) -> tuple[str, str, bytes | None]:
    if call == "list":
        return "GET", "/api/v1/process-instances", None
    if call == "instance":
        return "GET", f"/api/v1/process-instances/{rng.choice(instance_ids)}", None
    body = {"variables": {"applicant": f"load-{rng.getrandbits(32)}", "email": "load@example.com", "score": 1}}
    return "POST", f"/api/v1/process-definitions/{PROCESS_KEY}/start", json.dumps(body).encode()


def drive(port: int, token: str, call: str, instance_ids: list[str], connections: int,
          seconds: float) -> dict[str, Any]:
    """``connections`` threads, each with one keep-alive connection, for ``seconds``; every latency."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors: list[list[str]] = [[] for _ in range(connections)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
               "Accept": "application/json"}
    barrier = threading.Barrier(connections + 1)
    deadline = [0.0]

    def worker(k: int) -> None:
        rng = random.Random(k)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        barrier.wait()
        while time.perf_counter() < deadline[0]:
            method, path, body = make_request(call, instance_ids, rng)
            began = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                errors[k].append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            latencies[k].append(time.perf_counter() - began)
            if response.status not in OK:
                errors[k].append(f"{response.status} {payload[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(connections)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join(timeout=seconds + 60)
    elapsed = time.perf_counter() - began
    flat = [x * 1000.0 for per in latencies for x in per]
    failures = [e for per in errors for e in per]
    return {
        "requests": len(flat), "seconds": round(elapsed, 3),
        "req_per_s": round(len(flat) / elapsed, 1) if elapsed else None,
        "p50_ms": round(percentile(flat, 50) or 0, 1), "p99_ms": round(percentile(flat, 99) or 0, 1),
        "max_ms": round(max(flat), 1) if flat else None,
        "errors": len(failures), "error_samples": sorted(set(failures))[:3],
        "per_connection": [len(per) for per in latencies],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=1000, help="instances seeded before the load (1000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="load per call and process count (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="untimed load per call first (2)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--processes", default=f"1,{os.cpu_count() or 1}",
                        help="comma-separated web process counts (default: 1 and the number of cores)")
    parser.add_argument("--calls", default=",".join(CALLS), help="subset of list,instance,start")
    parser.add_argument("--quick", action="store_true", help="300 instances, 4 s per call")
    parser.add_argument("--profile", metavar="CALL",
                        help="afterwards, run one web process with every request under cProfile while CALL "
                             "is driven, and print the top functions by cumulative time")
    parser.add_argument("--serve-profiled", nargs=2, metavar=("PORT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_profiled:
        serve_profiled(int(args.serve_profiled[0]), Path(args.serve_profiled[1]))
        return 0
    if args.quick:
        args.instances, args.seconds, args.warmup = 300, 4.0, 1.0
    counts = sorted({int(p) for p in args.processes.split(",") if p.strip()})
    calls = [c.strip() for c in args.calls.split(",") if c.strip()]
    if set(calls) - set(CALLS):
        parser.error(f"unknown calls {sorted(set(calls) - set(CALLS))}")
    if args.profile and args.profile not in CALLS:
        parser.error(f"--profile takes one of {', '.join(CALLS)}")

    load_before = os.getloadavg()
    say(f"Baton web load: {args.connections} connections, {args.seconds:g} s per call, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    say(f"  load average before the run: {load_before[0]:.2f} (figures drop when the machine is busy)")
    results: dict[str, dict[str, Any]] = {}
    profile_text = ""
    with Database() as db:
        took = db.seed(args.instances)
        say(f"  seeded {args.instances} waiting {PROCESS_KEY} instances in {took:.1f} s (PostgreSQL {db.name})")
        for processes in counts:
            server = Server(db, processes)
            try:
                server.wait_ready()
                for call in calls:
                    drive(server.port, db.token, call, db.instance_ids, args.connections, args.warmup)
                    result = drive(server.port, db.token, call, db.instance_ids, args.connections, args.seconds)
                    results[f"{processes}/{call}"] = result
                    say(f"  {processes} proc  {call:<9} {result['req_per_s']:8.1f} req/s"
                        f"  p50 {result['p50_ms']:7.1f} ms  p99 {result['p99_ms']:7.1f} ms"
                        f"  ({result['requests']} requests, {result['errors']} errors)")
                    for sample in result["error_samples"]:
                        say(f"      error: {sample}")
            finally:
                server.stop()
        if args.profile:
            profile_text = run_profile(db, args.profile, args.connections, args.seconds)
        instances_after = db.count()
    load_after = os.getloadavg()

    say()
    say(f"{'call':<10}" + "".join(f"{f'{p} proc req/s':>16}{'p50 ms':>9}{'p99 ms':>9}" for p in counts))
    for call in calls:
        line = f"{call:<10}"
        for p in counts:
            r = results.get(f"{p}/{call}")
            line += f"{r['req_per_s']:>16.1f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}" if r else " " * 34
        say(line)
    goal = {f"{p} proc": results.get(f"{p}/list", {}).get("p99_ms") for p in counts}
    met = {k: (v is not None and v < GOAL_LIST_P99_MS) for k, v in goal.items()}
    say(f"goal: list p99 < {GOAL_LIST_P99_MS:g} ms at {args.connections} connections: "
        + ", ".join(f"{k} {v} ms ({'met' if met[k] else 'NOT met'})" for k, v in goal.items()))
    say(f"  load average after the run: {load_after[0]:.2f}; {instances_after} instances in the database at the end")
    if profile_text:
        say()
        say(profile_text)
    print(json.dumps({
        "benchmark": "web", "cpu_count": os.cpu_count(), "connections": args.connections,
        "seconds_per_call": args.seconds, "instances_seeded": args.instances,
        "load_average_before": round(load_before[0], 2), "load_average_after": round(load_after[0], 2),
        "results": results, "goal_list_p99_ms": GOAL_LIST_P99_MS, "goal_met": met,
    }), flush=True)
    return 0


def run_profile(db: Database, call: str, connections: int, seconds: float) -> str:
    """One web process with every request under cProfile while ``call`` is driven; the top functions."""
    out = db.home / f"profile-{call}.txt"
    server = Server(db, 1, profile=out)
    try:
        server.wait_ready()
        drive(server.port, db.token, call, db.instance_ids, connections, 1.0)
        result = drive(server.port, db.token, call, db.instance_ids, connections, seconds)
    finally:
        server.stop(wait=150)  # the worker writes its report as it exits (summing the profiles takes a while)
    text = out.read_text(errors="replace") if out.exists() else f"(no profile written)\n{server.tail()}"
    return (f"profile: 1 web process, every request under cProfile (CPU time of the request's thread: waits on "
            f"the database, the GIL and the scheduler are left out), {call}, "
            f"{result['req_per_s']} req/s while profiled (cProfile slows it)\n" + text)


def serve_profiled(port: int, out: Path) -> None:
    """``baton serve --processes 1`` whose app runs each request under its own cProfile.Profile
    (cProfile follows one thread; gthread runs requests on several), summed into ``out`` by
    cumulative time when the worker exits. The clock is the thread's CPU time, so the figures
    do not swell with the machine's load; the database's own work is not in them."""
    import cProfile
    import io
    import pstats

    from engine import Settings
    from web.serve import _Gunicorn, gunicorn_options

    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    class Profiled(_Gunicorn):
        def load(self):  # type: ignore[no-untyped-def]
            app = super().load()

            def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
                profile = cProfile.Profile(time.thread_time)  # CPU of this request's thread
                profile.enable()
                try:
                    return list(app(environ, start_response))
                finally:
                    profile.disable()
                    with lock:
                        profiles.append(profile)
            return wsgi

    def worker_exit(server: Any, worker: Any) -> None:
        with lock:
            if not profiles:
                return
            buffer = io.StringIO()
            stats = pstats.Stats(profiles[0], stream=buffer)
            for more in profiles[1:]:
                stats.add(more)
            buffer.write(f"{len(profiles)} requests\n")
            stats.strip_dirs().sort_stats("cumulative").print_stats(45)
            out.write_text(buffer.getvalue())

    settings = Settings.from_env()
    options = gunicorn_options("127.0.0.1", port, 1, settings.web_threads)
    options["worker_exit"] = worker_exit
    options["graceful_timeout"] = 120
    Profiled(settings, options).run()


if __name__ == "__main__":
    sys.exit(main())
