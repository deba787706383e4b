"""Supervised workers: a worker survives the loss of any of its processes at any moment, and a
SIGTERM finishes the job in hand (docs/deployment.md).

- ``test_baton_run_keeps_orders_completing_while_worker_processes_are_killed``: ``baton run`` on
  PostgreSQL + Redis; every process the worker forks in its first half second is SIGKILLed
  (start-up: its pool and its beat), then, while 10 orders run, a pool process or the beat
  every 4 s, and once the worker itself. Every order completes, every service effect happens
  once, and ``baton run`` restarted the worker each time it exited.
- ``test_sigterm_to_a_worker_mid_call_finishes_the_job``: SIGTERM to a worker's whole process
  group (as systemd's default or a terminal does) while its pool process waits on a 3 s call:
  the call completes and its job is done (one call, one effect), the worker exits 0, and a new
  worker finishes the order.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e import Services, Worker, baton_env, cli, events, show, summary, wait_for, wait_status
from tests.test_baton_run import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def demo(services: str):  # type: ignore[no-untyped-def]
    client = Services(services)
    client.reset()
    yield client
    client.close()


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def worker_of(run_pid: int) -> int | None:
    """The ``baton worker`` process ``baton run`` started (its main process), if one runs."""
    for pid in children(run_pid):
        if " worker" in command_line(pid):
            return pid
    return None


class Chaos(threading.Thread):
    """SIGKILLs the worker's processes: each one it forks in its first half second (start-up), then,
    once it has run a job, one of its processes (pool or beat) every ``every`` seconds, the
    worker's main process itself the third time, ``kills`` times in all."""

    def __init__(self, run_pid: int, ready: threading.Event, every: float = 4.0, kills: int = 4):
        super().__init__(daemon=True)
        self.run_pid, self.ready, self.every, self.total = run_pid, ready, every, kills
        self.stopped = threading.Event()
        self.kills: list[str] = []

    def kill(self, pid: int, what: str) -> None:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            self.kills.append(what)

    def run(self) -> None:
        rng = random.Random(12)
        first_seen = None  # start-up: every process the worker forks in its first half second
        while not self.stopped.is_set() and (first_seen is None or time.monotonic() < first_seen + 0.5):
            worker = worker_of(self.run_pid)
            for pid in children(worker) if worker else []:
                first_seen = first_seen or time.monotonic()
                self.kill(pid, "at start-up")
            time.sleep(0.005)
        self.ready.wait(120)
        started_up = len(self.kills)
        while not self.stopped.is_set() and len(self.kills) - started_up < self.total:
            self.stopped.wait(self.every)
            worker = worker_of(self.run_pid)
            procs = children(worker) if worker else []
            if worker and len(self.kills) - started_up == 2:
                self.kill(worker, "worker")
            elif procs:
                self.kill(rng.choice(procs), "child")


@pytest.mark.timeout(420)
def test_baton_run_keeps_orders_completing_while_worker_processes_are_killed(  # type: ignore[no-untyped-def]
        tmp_path, postgres_url, redis_url, services, demo):
    from adapters.broker import CeleryNotifier
    from adapters.tasks import create_celery
    from engine import Engine, Settings

    port = free_port()
    env = baton_env(tmp_path / "home", services, database_url=postgres_url, broker_url=redis_url)
    env.update({"BATON_PORT": str(port), "BATON_ADMIN_PASSWORD": "correct horse battery staple"})
    full_env = dict(os.environ, **env)
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        run = subprocess.Popen([sys.executable, "-m", "web.cli", "run", "--no-services"], cwd=ROOT, env=full_env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    ready = threading.Event()
    chaos = Chaos(run.pid, ready)
    chaos.start()
    engine = None
    try:
        wait_for(lambda: "Ctrl-C stops everything" in log_path.read_text(errors="replace"), bool, timeout=120,
                 what="baton run to start")
        settings = Settings.from_env(env)
        engine = Engine(settings, notifier=CeleryNotifier(create_celery(settings)))
        ids = [engine.start("order_fulfillment", {"amount": n + 1}, business_key=f"chaos-{n}") for n in range(10)]
        wait_for(lambda: demo.effects(), bool, timeout=120, what="a first service call")
        ready.set()  # jobs run: from now on, a kill every few seconds
        for instance_id in ids:
            doc = wait_status(env, instance_id, "completed", timeout=180)
            assert doc["variables"]["charged"] > 0, summary(doc)
        chaos.join(60)
    finally:
        chaos.stopped.set()
        ready.set()
        if engine is not None:
            engine.close()
        run.send_signal(signal.SIGINT)
        try:
            run.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            raise
    output = log_path.read_text(errors="replace")
    print(f"\nkills: {chaos.kills}; worker restarts: {output.count('worker exited with')}")
    assert chaos.kills[0] == "at start-up" and chaos.kills.count("child") >= 2 and "worker" in chaos.kills, chaos.kills
    assert "worker exited with" in output and "restarting it in" in output, output[-3000:]
    # Each service call's effect happened once per order, whatever was killed mid-call.
    for path in ("/payment/charge", "/inventory/reserve", "/shipping/create"):
        for instance_id in ids:
            assert len(demo.effects(path, instance_id)) == 1, (path, demo.calls(path, instance_id))
    assert run.returncode == 0, output[-3000:]


def test_sigterm_to_a_worker_mid_call_finishes_the_job(tmp_path, postgres_url, redis_url,  # type: ignore[no-untyped-def]
                                                       services, demo):
    env = baton_env(tmp_path / "home", services, database_url=postgres_url, broker_url=redis_url)
    cli(env, "db", "upgrade")
    cli(env, "deploy", str(ROOT / "processes"))
    demo.fail("/payment/charge", "slow", seconds=3, count=1)  # the effect, then the answer 3 s later
    worker = Worker(env, tmp_path, "stopping")
    try:
        instance_id = cli(env, "start", "order_fulfillment", "--var", "amount=5", "--business-key",
                          "sigterm").stdout.strip()
        wait_for(lambda: demo.calls("/payment/charge", instance_id), lambda calls: len(calls) == 1,
                 timeout=60, interval=0.05, what="the worker to call /payment/charge")
        os.killpg(worker.pid, signal.SIGTERM)  # main process, pool processes and beat alike
        assert worker.proc.wait(30) == 0, worker.stderr()[-3000:]

        doc = show(env, instance_id)
        [charge] = [j for j in doc["jobs"] if j["element_id"] == "charge_payment"]
        assert charge["status"] == "done" and charge["attempts"] == 1, summary(doc)
        assert events(doc, "charge_payment") == ["entered", "completed"], summary(doc)
    finally:
        worker.stop()

    successor = Worker(env, tmp_path, "successor")
    try:
        doc = wait_status(env, instance_id, "completed", timeout=60)
    finally:
        successor.stop()
    assert len(demo.calls("/payment/charge", instance_id)) == 1
    assert len(demo.effects("/payment/charge", instance_id)) == 1
    assert doc["variables"]["payment_id"], summary(doc)
