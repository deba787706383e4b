"""The chaos driver: Baton as separate OS processes, on a private PostgreSQL and a private broker,
running hundreds of sagas while workers are SIGKILLed, the broker and the database restarted and
the web process killed; then the invariants, read from the database and the demo services.

One run (:func:`run`, parameters in :class:`ChaosConfig`):

1. starts a private PostgreSQL, a private broker (a RabbitMQ node, or Redis with no persistence),
   the demo services (``python -m processes.services``), migrates, deploys ``order_saga`` and
   ``order_fulfillment``, starts ``baton serve`` and ``config.workers`` ``baton worker`` processes;
2. for ``config.duration`` seconds starts ``config.instances`` instances through the REST API
   (with an ``Idempotency-Key``, retried through the outages); their inputs decide their end: a
   share has ``scenario=ship_fail`` (``/shipping/create`` answers the BPMN error: the saga is
   compensated, the fulfillment takes its not-shipped path) and a share has ``lose=true`` (every
   service loses its first answer after applying the effect: Baton must retry with the same key);
3. meanwhile SIGKILLs a random worker every ``config.kill_every`` seconds (and starts a new one;
   only a worker consuming for ``MIN_UPTIME`` seconds, and never the last one consuming),
   restarts the broker once, PostgreSQL once, and SIGKILLs the web process once (and restarts it);
4. waits (bounded) for quiescence: every instance ended or stuck in an incident, no job pending
   or running;
5. checks the invariants (:func:`.invariants.check`) and returns a :class:`Report` whose ``table()`` is the
   summary.

Every loop here is bounded in count and time, every process started is stopped in ``finally``,
and everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from tests.conftest import PROCESSES
from tests.e2e import baton_env, cli

from .invariants import EXPECTED, FULFILLMENT, SAGA, SERVICE_PATHS, SHIP, check
from .servers import (
    ChaosSetupError,
    PrivatePostgres,
    PrivateRabbitMQ,
    PrivateRedis,
    Proc,
    free_port,
    group_pids,
    python_proc,
    wait_port,
)

#: A worker is killed only after it has been consuming this long (it holds jobs by then).
MIN_UPTIME = 2.0
#: A worker that exits non-zero this long after an outage ended is still counted as the outage's.
OUTAGE_GRACE = 10.0


@dataclass
class ChaosConfig:
    """One run's size and faults. The CI run and ``python -m tests.chaos`` differ only here."""

    instances: int = 200
    duration: float = 90.0  # seconds of chaos; the starts are spread over its first 80 %
    kill_every: float = 5.0  # a worker SIGKILLed this often (0: never)
    workers: int = 3
    concurrency: int = 2
    broker: str = "rabbitmq"  # rabbitmq | redis: a private server either way
    restart_broker: bool = True
    restart_postgres: bool = True
    kill_web: bool = True
    fail_share: float = 0.25  # instances whose shipment fails (BPMN error: compensation)
    lose_share: float = 0.2  # instances whose services lose their first answer after the effect
    quiesce_timeout: float = 240.0
    start_threads: int = 4
    seed: int | None = None
    keep: bool = False  # keep the run's folder (logs, database files) even when it passed
    log: Any = print  # progress lines

    def validate(self) -> None:
        if self.instances < 1 or self.workers < 1 or self.duration <= 0:
            raise ValueError("instances, workers and duration must be positive")
        if self.broker not in ("rabbitmq", "redis"):
            raise ValueError(f"broker must be rabbitmq or redis, not {self.broker!r}")


@dataclass
class Planned:
    index: int
    business_key: str
    definition: str
    scenario: str
    lose: bool
    amount: int
    instance_id: str | None = None
    start_attempts: int = 0
    start_error: str = ""

    @property
    def expected(self) -> tuple[str, str, frozenset[str]]:
        return EXPECTED[(self.definition, self.scenario)]


@dataclass
class Kill:
    at: datetime
    worker: str
    jobs: list[str]  # the jobs its processes held when it died


@dataclass
class Report:
    config: ChaosConfig
    folder: Path
    planned: list[Planned] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    outages: dict[str, float] = field(default_factory=dict)  # what -> seconds it was away
    counts: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    chaos_seconds: float = 0.0
    quiesce_seconds: float | None = None
    total_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.violations

    def table(self) -> str:
        c, cfg = self.counts, self.config
        by_kind = Counter(f"{p.definition} {p.scenario}{' +lost answers' if p.lose else ''}" for p in self.planned)
        handover = c.get("handover_seconds") or []
        rows = [
            ("broker / database", f"{cfg.broker} (private) / PostgreSQL (private)"),
            ("instances started", f"{len(self.planned)}"),
            *((f"  {kind}", str(n)) for kind, n in sorted(by_kind.items())),
            ("instances by end", ""),
            *((f"  {kind}", str(n)) for kind, n in sorted(c.get("ends", {}).items())),
            ("workers", f"{cfg.workers} x concurrency {cfg.concurrency}"),
            ("worker SIGKILLs (each restarted)", str(len(self.kills))),
            ("workers that could not start during an outage (restarted)", str(c.get("worker_exits_in_outage", 0))),
            ("jobs held by a killed worker", str(sum(len(k.jobs) for k in self.kills))),
            ("broker restarts", _outage(self.outages, "broker")),
            ("PostgreSQL restarts", _outage(self.outages, "postgres")),
            ("web SIGKILLs (restarted)", _outage(self.outages, "web")),
            ("start calls re-sent by the client (Idempotency-Key)", str(c.get("start_resends", 0))),
            ("jobs re-sent by the relay (job.resends)", str(c.get("relay_resends", 0))),
            ("leases taken over (metrics)", str(c.get("lease_takeovers", "?"))),
            ("endpoint answers lost after the effect", str(c.get("lost_answers", 0))),
            ("endpoint calls repeated with the same key", str(c.get("repeated_calls", 0))),
            ("  of them answered from the store (effect not repeated)", str(c.get("replays", 0))),
            ("job deliveries suppressed by the claim ('skipped')", str(c.get("skipped_deliveries", 0))),
            ("worker death -> its job done elsewhere (s)", _spread(handover)),
            ("chaos phase (s)", f"{self.chaos_seconds:.1f}"),
            ("time to quiescence after the chaos (s)",
             "not reached" if self.quiesce_seconds is None else f"{self.quiesce_seconds:.1f}"),
            ("whole run (s)", f"{self.total_seconds:.1f}"),
            ("invariant violations", str(len(self.violations))),
        ]
        width = max(len(r[0]) for r in rows)
        line = "+" + "-" * (width + 2) + "+" + "-" * 62 + "+"
        out = [line] + [f"| {k.ljust(width)} | {v[:60].ljust(60)} |" for k, v in rows] + [line]
        return "\n".join(out)


def _outage(outages: dict[str, float], what: str) -> str:
    return f"1 (away {outages[what]:.1f}s)" if what in outages else "0"


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    return (f"n={len(values)} min {min(values):.1f} median {statistics.median(values):.1f} "
            f"max {max(values):.1f}")


# -- the run ---------------------------------------------------------------------------------------

def plan(config: ChaosConfig, rng: random.Random, run_id: str) -> list[Planned]:
    planned = []
    for i in range(config.instances):
        planned.append(Planned(
            index=i, business_key=f"chaos-{run_id}-{i:05d}",
            definition=SAGA if i % 2 == 0 else FULFILLMENT,
            scenario="ship_fail" if rng.random() < config.fail_share else "ok",
            lose=rng.random() < config.lose_share, amount=1 + rng.randrange(500)))
    return planned


class Cluster:
    """The processes of one run and the chaos done to them."""

    def __init__(self, config: ChaosConfig, folder: Path, stack: ExitStack):
        self.config, self.folder, self.stack = config, folder, stack
        self.logs = folder / "logs"
        self.logs.mkdir(parents=True)
        self.postgres = PrivatePostgres(folder / "pg")
        stack.callback(self.postgres.close)
        self.postgres.start()
        self.broker: PrivateRabbitMQ | PrivateRedis = (
            PrivateRabbitMQ(folder / "rabbitmq") if config.broker == "rabbitmq" else PrivateRedis(folder / "redis"))
        stack.callback(self.broker.close)
        self.broker.start()
        self.procs: list[Proc] = []
        stack.callback(self._stop_all)
        self.services_port, self.web_port = free_port(), free_port()
        self.services = self._spawn("services", ["-m", "processes.services", "--port", str(self.services_port),
                                                 "--quiet"])
        wait_port(self.services_port, "the demo services", 60)
        self.token = uuid.uuid4().hex
        self.env = baton_env(folder / "home", f"http://127.0.0.1:{self.services_port}",
                             database_url=self.postgres.url, broker_url=self.broker.url)
        self.env.update({"BATON_API_TOKEN": self.token, "BATON_WEB_PROCESSES": "1", "BATON_WEB_THREADS": "8",
                         "BATON_METRICS_DIR": str(folder / "metrics")})
        self.generation: Counter[str] = Counter()
        self._ready: dict[str, float] = {}  # worker process name -> when it was first seen ready
        self._lock = threading.Lock()  # the killer thread and the supervisor both replace workers
        self.away, self.away_until = False, 0.0  # the broker or PostgreSQL is being restarted
        self.workers: list[Proc] = []
        self.web: Proc | None = None
        self.db = sa.create_engine(self.postgres.url, pool_pre_ping=True, pool_size=2)
        stack.callback(self.db.dispose)

    def _spawn(self, name: str, args: list[str]) -> Proc:
        proc = python_proc(name, args, getattr(self, "env", {}), self.logs / f"{name}.log")
        self.procs.append(proc)
        return proc

    def _stop_all(self) -> None:
        for proc in self.procs:
            proc.stop(grace=3)

    # -- Baton's processes ----------------------------------------------------------------------

    def prepare(self) -> None:
        cli(self.env, "db", "upgrade", timeout=120)
        cli(self.env, "deploy", str(PROCESSES / "order_saga.bpmn"), str(PROCESSES / "order_fulfillment.bpmn"),
            timeout=120)

    def start_web(self) -> None:
        self.generation["web"] += 1
        self.web = self._spawn(f"web-{self.generation['web']}",
                               ["-m", "web.cli", "serve", "--port", str(self.web_port)])
        self.wait_web(90)

    def wait_web(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=2, trust_env=False).status_code == 200:
                    return
            if self.web is not None and not self.web.alive():
                raise ChaosSetupError(f"baton serve exited {self.web.proc.returncode}: see {self.web.log}")
            time.sleep(0.2)
        raise ChaosSetupError(f"baton serve did not answer /healthz within {timeout:.0f}s")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start_worker(self, slot: int) -> Proc:
        name = f"worker{slot}"
        self.generation[name] += 1
        proc = self._spawn(f"{name}-{self.generation[name]}",
                           ["-m", "web.cli", "worker", "--concurrency", str(self.config.concurrency),
                            "--loglevel", "INFO"])
        if slot < len(self.workers):
            self.workers[slot] = proc
        else:
            self.workers.append(proc)
        return proc

    def install_faults(self) -> None:
        rules = [{"path": SHIP, "mode": "bpmn_error", "code": "SHIPPING_UNAVAILABLE",
                  "match": {"scenario": "ship_fail"}}]
        rules += [{"path": path, "mode": "lose_answer", "match": {"lose": True}} for path in SERVICE_PATHS]
        with httpx.Client(base_url=f"http://127.0.0.1:{self.services_port}", timeout=10, trust_env=False) as http:
            for rule in rules:
                answer = http.post("/_control/fail", json=rule)
                if answer.status_code != 200:
                    raise ChaosSetupError(f"the demo services refused {rule}: {answer.text}")

    # -- the chaos ------------------------------------------------------------------------------

    def ready_workers(self, for_at_least: float = 0.0) -> list[int]:
        """Slots whose worker has been up and consuming (Celery logged "ready") for ``for_at_least``
        seconds."""
        now = time.monotonic()
        for w in self.workers:
            if w.name not in self._ready and w.alive() and " ready." in w.log.read_text(errors="replace"):
                self._ready[w.name] = now
        return [slot for slot, w in enumerate(self.workers)
                if w.alive() and now - self._ready.get(w.name, now + 1) >= for_at_least]

    def supervise(self, report: Report) -> None:
        """Start another worker for one that exited without being killed, as a supervisor would.

        ``baton worker`` exits non-zero when it cannot start (the database or the broker away) and
        expects to be restarted: during an outage (and ``OUTAGE_GRACE`` seconds after it) that is
        counted. Any other exit is a finding."""
        with self._lock:
            for slot, worker in enumerate(self.workers):
                if not worker.alive():
                    code = worker.proc.returncode
                    if code != 0 and (self.away or time.monotonic() < self.away_until):
                        report.counts["worker_exits_in_outage"] = report.counts.get("worker_exits_in_outage", 0) + 1
                    else:
                        tail = " | ".join(worker.log.read_text(errors="replace").splitlines()[-3:])[:600]
                        report.violations.append(f"{worker.name} exited by itself with {code}: {tail}")
                    self.start_worker(slot)

    def _outage(self, began: bool) -> None:
        self.away = began
        if not began:
            self.away_until = time.monotonic() + OUTAGE_GRACE

    def kill_worker(self, rng: random.Random, report: Report) -> None:
        """SIGKILL a random worker that has been working for a while, and start another. Never the
        last one consuming: a worker boots in seconds to tens of seconds on a busy machine, and a
        cluster whose workers die as soon as they are up tests nothing; someone must be there to
        take the dead one's jobs over."""
        for _ in range(200):  # at most ~60 s for the condition
            ready = self.ready_workers(MIN_UPTIME)
            if ready and len(self.ready_workers()) >= 2:
                break
            time.sleep(0.3)
        else:
            return
        with self._lock:
            slot = rng.choice(ready)
            victim = self.workers[slot]
            owners = [f"{_hostname()}:{pid}" for pid in group_pids(victim.pid)]
            victim.kill()
            self.start_worker(slot)
        at = datetime.now(UTC)
        jobs = self._query(lambda c: [r[0] for r in c.execute(
            sa.text("SELECT id FROM job WHERE status = 'running' AND lock_owner = ANY(:owners)"),
            {"owners": owners})], default=[])
        report.kills.append(Kill(at, victim.name, jobs))

    def restart_broker(self, report: Report) -> None:
        began = time.monotonic()
        self.config.log(f"chaos: restarting the {self.config.broker} broker")
        self._outage(True)
        try:
            self.broker.stop()
            time.sleep(2)
            self.broker.start()
        finally:
            self._outage(False)
        report.outages["broker"] = time.monotonic() - began

    def restart_postgres(self, report: Report) -> None:
        began = time.monotonic()
        self.config.log("chaos: restarting PostgreSQL")
        self._outage(True)
        try:
            self.postgres.stop()
            time.sleep(3)
            self.postgres.start()
        finally:
            self._outage(False)
        report.outages["postgres"] = time.monotonic() - began

    def kill_web(self, report: Report) -> None:
        began = time.monotonic()
        self.config.log("chaos: SIGKILL the web process")
        assert self.web is not None
        self.web.kill()
        time.sleep(1)
        self.start_web()
        report.outages["web"] = time.monotonic() - began

    def _query(self, fn: Any, default: Any = None, tries: int = 10) -> Any:
        """Run ``fn(connection)``; through a database restart, retry (bounded), then ``default``."""
        for attempt in range(tries):
            try:
                with self.db.connect() as conn:
                    return fn(conn)
            except sa.exc.OperationalError:
                if attempt == tries - 1:
                    return default
                time.sleep(1)
        return default


def _hostname() -> str:
    import socket

    return socket.gethostname()


class Starter:
    """Starts the planned instances through ``POST .../start`` with an Idempotency-Key, at a
    steady pace, retrying each through outages (connection refused, 5xx) for at most a minute."""

    def __init__(self, cluster: Cluster, planned: list[Planned], window: float):
        self.cluster, self.planned, self.window = cluster, planned, window
        self.stop = threading.Event()
        self.resends = 0
        self._lock = threading.Lock()

    def run(self) -> None:
        began = time.monotonic()
        step = self.window / max(1, len(self.planned))
        headers = {"Authorization": f"Bearer {self.cluster.token}"}
        with httpx.Client(base_url=self.cluster.base_url, headers=headers, timeout=30, trust_env=False) as http, \
                ThreadPoolExecutor(self.cluster.config.start_threads) as pool:
            for p in self.planned:
                delay = began + p.index * step - time.monotonic()
                if delay > 0 and self.stop.wait(delay):
                    return
                pool.submit(self._start, http, p)

    def _start(self, http: httpx.Client, p: Planned) -> None:
        body = {"variables": {"amount": p.amount, "scenario": p.scenario, "lose": p.lose},
                "business_key": p.business_key}
        deadline = time.monotonic() + 90
        while not self.stop.is_set():
            p.start_attempts += 1
            try:
                answer = http.post(f"/api/v1/process-definitions/{p.definition}/start", json=body,
                                   headers={"Idempotency-Key": p.business_key})
                if answer.status_code in (200, 201, 202):
                    p.instance_id = answer.json()["id"]
                    return
                p.start_error = f"HTTP {answer.status_code}: {answer.text[:200]}"
                if answer.status_code < 500:
                    return
            except httpx.HTTPError as exc:
                p.start_error = repr(exc)
            if time.monotonic() >= deadline:
                return
            with self._lock:
                self.resends += 1
            time.sleep(0.5)


def run(config: ChaosConfig) -> Report:
    """One chaos run; never raises for a broken invariant (see ``Report.violations``)."""
    config.validate()
    seed = config.seed if config.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    run_id = uuid.uuid4().hex[:6]
    folder = Path(tempfile.mkdtemp(prefix="baton-chaos-", dir="/tmp"))  # short: PostgreSQL's socket path
    folder.chmod(0o755)  # the postgres and rabbitmq users keep their folders in it
    finished = False
    report = Report(config, folder)
    began = time.monotonic()
    config.log(f"chaos {run_id}: seed {seed}, folder {folder}")
    try:
        with ExitStack() as stack:
            cluster = Cluster(config, folder, stack)
            cluster.prepare()
            cluster.install_faults()
            cluster.start_web()
            for slot in range(config.workers):
                cluster.start_worker(slot)
            report.planned = plan(config, rng, run_id)
            config.log(f"chaos {run_id}: {config.instances} instances over {config.duration:.0f}s, "
                       f"{config.workers} workers, broker {config.broker}")
            _chaos(cluster, report, rng)
            _quiesce(cluster, report)
            check(cluster, report)
            finished = True
    finally:
        report.total_seconds = time.monotonic() - began
        if finished and report.ok and not config.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return report


def _chaos(cluster: Cluster, report: Report, rng: random.Random) -> None:
    config = cluster.config
    starter = Starter(cluster, report.planned, config.duration * 0.8)
    start_thread = threading.Thread(target=starter.run, name="chaos-starter", daemon=True)
    began = time.monotonic()
    events: list[tuple[float, str]] = []
    if config.restart_broker:
        events.append((0.3 * config.duration, "broker"))
    if config.restart_postgres:
        events.append((0.55 * config.duration, "postgres"))
    if config.kill_web:
        events.append((0.75 * config.duration, "web"))
    stop_killing = threading.Event()

    def killer() -> None:
        for _ in range(10_000):  # bounded; really ends with the chaos phase
            if config.kill_every <= 0 or stop_killing.wait(config.kill_every):
                return
            if time.monotonic() - began >= config.duration:
                return
            cluster.supervise(report)
            cluster.kill_worker(rng, report)

    kill_thread = threading.Thread(target=killer, name="chaos-killer", daemon=True)
    start_thread.start()
    kill_thread.start()
    try:
        for at, what in events:
            delay = began + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            actions = {"broker": cluster.restart_broker, "postgres": cluster.restart_postgres, "web": cluster.kill_web}
            actions[what](report)
        remaining = began + config.duration - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
    finally:
        stop_killing.set()
        kill_thread.join(timeout=60)
        start_thread.join(timeout=120)  # the last starts retry for at most 90 s
        starter.stop.set()
        start_thread.join(timeout=30)
    report.chaos_seconds = time.monotonic() - began
    report.counts["start_resends"] = starter.resends
    config.log(f"chaos: over after {report.chaos_seconds:.0f}s: {len(report.kills)} worker kills; "
               f"{sum(1 for p in report.planned if p.instance_id)} instances started")


def _quiesce(cluster: Cluster, report: Report) -> None:
    """Wait until nothing moves: every instance ended (or in an incident), no job pending or running."""
    began = time.monotonic()
    deadline = began + cluster.config.quiesce_timeout
    query = sa.text("SELECT (SELECT count(*) FROM process_instance WHERE status NOT IN "
                    "('completed', 'compensated', 'cancelled', 'incident')), "
                    "(SELECT count(*) FROM job WHERE status IN ('pending', 'running'))")
    last = None
    while time.monotonic() < deadline:
        cluster.supervise(report)
        last = cluster._query(lambda c: tuple(c.execute(query).one()), default=None)
        if last == (0, 0):
            report.quiesce_seconds = time.monotonic() - began
            cluster.config.log(f"quiescent {report.quiesce_seconds:.1f}s after the chaos")
            return
        time.sleep(1)
    cluster.config.log(f"not quiescent after {cluster.config.quiesce_timeout:.0f}s: "
                       f"(unended instances, unfinished jobs) = {last}")


def report_json(report: Report) -> str:
    return json.dumps({"counts": {k: v for k, v in report.counts.items()},
                       "kills": len(report.kills), "outages": report.outages,
                       "violations": report.violations}, default=str, indent=2)
